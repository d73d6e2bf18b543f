import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KEY_ROLES, type KeyRole } from "../../db/schema.ts";
import { openApiDocument } from "../../src/app.ts";
import { runStarted } from "../../support/fixtures.ts";
import { type TestApp, testApp, tinySpec } from "./helpers.ts";
import {
  footprint,
  HOOK,
  type ProjectKeys,
  packedCheckpoint,
  projectKeys,
  seedTenant,
  type Tenant,
  tenantIds,
} from "./tenant-fixture.ts";

/**
 * Issue 23: every route's project scope, as a table of (route × role × project) generated from the
 * app's route registry. Project A holds one of every resource; for each route, a key of each role
 * of A and of another project B calls it on A's resources. A route without an entry fails.
 */
interface Call {
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

interface Scope {
  /** The roles that may call the route; any other role is 403 from either project. */
  readonly roles: readonly KeyRole[];
  /** The call, on project A's resources. */
  readonly call: (a: Tenant) => Call;
  /** What A's own keys (of those roles) get. */
  readonly same: number;
  /** Text A's own answer holds (a list shows A's resource). */
  readonly shows?: (a: Tenant) => string;
  /**
   * What B's keys get: 404 (A's id is unknown to B) or 403 (naming A's project); `{ own }`: the
   * route acts in B's own project with that status, naming none of A's ids. Either way A's stored
   * footprint is unchanged.
   */
  readonly other: 404 | 403 | { readonly own: number };
  /** Operator keys manage every project's keys: B's operator gets `same` too. */
  readonly operatorsReachEveryProject?: true;
}

const MEMBERS: readonly KeyRole[] = ["operator", "admin", "member"];
const ADMINS: readonly KeyRole[] = ["operator", "admin"];
const WORKERS: readonly KeyRole[] = ["worker"];

const get = (path: string): Call => ({ method: "GET", path });
const post = (path: string, body?: unknown): Call => ({ method: "POST", path, body });
const del = (path: string): Call => ({ method: "DELETE", path });
const patch = (path: string, body: unknown): Call => ({ method: "PATCH", path, body });
const lease = (a: Tenant) => ({ runId: a.leasedRunId, token: a.leaseToken });
const checkpoint = (method: string, a: Tenant): Call => ({
  method,
  path: `/v1/runs/${a.leasedRunId}/checkpoints/1`,
  headers: { "autoprog-lease-token": a.leaseToken },
  ...(method === "PUT" ? { body: packedCheckpoint() } : {}),
});

/** A member route on one of A's resources: B's keys get 404. */
const onA = (call: (a: Tenant) => Call, same: number, more: Partial<Scope> = {}): Scope => ({
  roles: MEMBERS,
  call,
  same,
  other: 404,
  ...more,
});
/** A member route on the caller's own project (a collection): B's keys act in B, with the same status. */
const onOwn = (call: () => Call, same: number, shows?: (a: Tenant) => string): Scope => ({
  roles: MEMBERS,
  call,
  same,
  other: { own: same },
  ...(shows ? { shows } : {}),
});
const forWorkers = (call: (a: Tenant) => Call, same: number): Scope => ({
  roles: WORKERS,
  call,
  same,
  other: 404,
});
/** Key management: B's admin gets `other`; any project's operator goes through. */
const forAdmins = (call: (a: Tenant) => Call, same: number, other: 403 | 404, shows?: Scope["shows"]) => ({
  roles: ADMINS,
  call,
  same,
  other,
  operatorsReachEveryProject: true as const,
  ...(shows ? { shows } : {}),
});
const events = (a: Tenant) => ({
  token: a.leaseToken,
  events: [{ seq: 0, event: runStarted(0, 2), replayKey: null }],
});

const SCOPES: Record<string, Scope> = {
  "POST /v1/experiments": onOwn(() => post("/v1/experiments", tinySpec()), 201),
  "POST /v1/experiments/validate": onOwn(() => post("/v1/experiments/validate", tinySpec()), 200),
  "GET /v1/experiments": onOwn(
    () => get("/v1/experiments"),
    200,
    (a) => a.experimentId,
  ),
  "GET /v1/experiments/{id}": onA((a) => get(`/v1/experiments/${a.experimentId}`), 200),
  "PATCH /v1/experiments/{id}": onA((a) => patch(`/v1/experiments/${a.experimentId}`, { tags: ["t"] }), 200),
  "DELETE /v1/experiments/{id}": onA((a) => del(`/v1/experiments/${a.experimentId}`), 204),
  "GET /v1/experiments/{id}/report": onA((a) => get(`/v1/experiments/${a.experimentId}/report`), 200),
  "GET /v1/experiments/{id}/runs": onA((a) => get(`/v1/experiments/${a.experimentId}/runs`), 200, {
    shows: (a) => a.queuedRunId,
  }),
  "GET /v1/runs": onOwn(
    () => get("/v1/runs"),
    200,
    (a) => a.queuedRunId,
  ),
  "GET /v1/runs/{id}": onA((a) => get(`/v1/runs/${a.queuedRunId}`), 200),
  "PATCH /v1/runs/{id}": onA((a) => patch(`/v1/runs/${a.queuedRunId}`, { note: "n" }), 200),
  "GET /v1/runs/{id}/stages": onA((a) => get(`/v1/runs/${a.queuedRunId}/stages`), 200),
  "GET /v1/runs/{id}/search": onA((a) => get(`/v1/runs/${a.queuedRunId}/search`), 200),
  "GET /v1/runs/{id}/metrics": onA((a) => get(`/v1/runs/${a.queuedRunId}/metrics`), 200),
  "GET /v1/runs/{id}/metrics/keys": onA((a) => get(`/v1/runs/${a.queuedRunId}/metrics/keys`), 200),
  "POST /v1/runs/{id}/cancel": onA((a) => post(`/v1/runs/${a.queuedRunId}/cancel`), 202),
  "POST /v1/runs/{id}/pause": onA((a) => post(`/v1/runs/${a.queuedRunId}/pause`), 202),
  // A queued run is not paused: its own project gets 409, another project 404.
  "POST /v1/runs/{id}/resume": onA((a) => post(`/v1/runs/${a.queuedRunId}/resume`), 409),
  "GET /v1/runs/{id}/events": onA((a) => get(`/v1/runs/${a.queuedRunId}/events`), 200),
  "POST /v1/runs/{id}/stream-token": onA((a) => post(`/v1/runs/${a.queuedRunId}/stream-token`), 201),
  "POST /v1/runs/{id}/events": forWorkers((a) => post(`/v1/runs/${a.leasedRunId}/events`, events(a)), 200),
  "PUT /v1/runs/{id}/checkpoints/{epoch}": forWorkers((a) => checkpoint("PUT", a), 204),
  // Members download any run's checkpoints; a worker key only with the run's lease token (sent here).
  "GET /v1/runs/{id}/checkpoints/{epoch}": {
    ...onA((a) => checkpoint("GET", a), 200),
    roles: [...MEMBERS, ...WORKERS],
  },
  "GET /v1/runs/{id}/checkpoints": onA((a) => get(`/v1/runs/${a.leasedRunId}/checkpoints`), 200, {
    shows: (a) => `/v1/runs/${a.leasedRunId}/checkpoints/1`,
  }),
  "POST /v1/runs/{id}/fork": onA((a) => post(`/v1/runs/${a.leasedRunId}/fork`, { fromEpoch: 1 }), 201),
  "GET /v1/runs/{id}/model": onA((a) => get(`/v1/runs/${a.leasedRunId}/model`), 200),
  "POST /v1/keys": forAdmins(
    (a) => post("/v1/keys", { project: a.project, role: "member", name: "n" }),
    201,
    403,
  ),
  "GET /v1/keys": forAdmins(
    (a) => get(`/v1/keys?project=${a.project}`),
    200,
    403,
    (a) => a.keys.member.id,
  ),
  "DELETE /v1/keys/{id}": forAdmins((a) => del(`/v1/keys/${a.keys.member.id}`), 204, 404),
  "GET /v1/queue": onOwn(
    () => get("/v1/queue"),
    200,
    (a) => a.queuedRunId,
  ),
  "POST /v1/webhooks": onOwn(() => post("/v1/webhooks", HOOK), 201),
  "GET /v1/webhooks": onOwn(
    () => get("/v1/webhooks"),
    200,
    (a) => a.webhookId,
  ),
  "GET /v1/webhooks/{id}": onA((a) => get(`/v1/webhooks/${a.webhookId}`), 200),
  "DELETE /v1/webhooks/{id}": onA((a) => del(`/v1/webhooks/${a.webhookId}`), 204),
  "POST /v1/webhooks/{id}/rotate-secret": onA((a) => post(`/v1/webhooks/${a.webhookId}/rotate-secret`), 200),
  "POST /v1/webhooks/{id}/test": onA((a) => post(`/v1/webhooks/${a.webhookId}/test`), 202),
  "GET /v1/webhooks/{id}/deliveries": onA((a) => get(`/v1/webhooks/${a.webhookId}/deliveries`), 200, {
    shows: (a) => a.deliveryId,
  }),
  "POST /v1/webhook-deliveries/{id}/redeliver": onA(
    (a) => post(`/v1/webhook-deliveries/${a.deliveryId}/redeliver`),
    202,
  ),
  // A's idle experiment has a queued run; B has none, so B's worker gets nothing (and takes none of A's).
  "POST /v1/workers/lease": {
    ...forWorkers(() => post("/v1/workers/lease", { worker: "w" }), 200),
    other: { own: 204 },
  },
  "POST /v1/workers/heartbeat": forWorkers((a) => post("/v1/workers/heartbeat", lease(a)), 200),
  "POST /v1/workers/release": forWorkers((a) => post("/v1/workers/release", lease(a)), 200),
};

/** Routes outside `/v1`: no key, no project (the document, the reference page, the dashboard). */
const PUBLIC = new Set([
  "GET /",
  "GET /healthz",
  "GET /openapi.json",
  "GET /reference",
  "GET /reference/styles.css",
  "GET /ui",
  "GET /ui/*",
  "GET /ui/assets/*",
  "GET /ui/assets/app.js",
  "GET /ui/assets/styles.css",
]);

/** Every route the app registered (Hono's registry, middleware left out), as "METHOD /path/{param}". */
function registeredRoutes(app: TestApp["raw"]): string[] {
  const routes = app.routes
    .filter((r) => r.method !== "ALL")
    .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
  return [...new Set(routes)].sort();
}

const registry = testApp();
const ROUTES = registeredRoutes(registry.raw);
const HTTP_METHODS = new Set(["get", "put", "post", "delete", "patch", "head", "options"]);
const DOCUMENTED = Object.entries(openApiDocument(registry.raw).paths ?? {}).flatMap(([path, item]) =>
  Object.keys(item ?? {})
    .filter((method) => HTTP_METHODS.has(method))
    .map((method) => `${method.toUpperCase()} ${path}`),
);
registry.close();
const SCOPED = ROUTES.filter((route) => !PUBLIC.has(route));

describe("the project-scope table", () => {
  it("has an entry for every registered route, and no entry for a route that is gone", () => {
    expect(SCOPED.filter((route) => !(route in SCOPES))).toEqual([]);
    expect(Object.keys(SCOPES).filter((route) => !ROUTES.includes(route))).toEqual([]);
    expect([...PUBLIC].filter((route) => !ROUTES.includes(route))).toEqual([]);
    // Every documented operation is a registered one, so the document cannot hide a route either.
    expect(DOCUMENTED.filter((route) => !ROUTES.includes(route))).toEqual([]);
    expect(SCOPED.every((route) => route.split(" ")[1]?.startsWith("/v1/"))).toBe(true);
  });
});

const CASES = SCOPED.flatMap((route) =>
  KEY_ROLES.flatMap((role) => (["same", "other"] as const).map((project) => ({ route, role, project }))),
);

let t: TestApp;
beforeAll(() => {
  t = testApp();
});
afterAll(() => t.close());

/**
 * Project A and B of the route under test, seeded once per route: a refused call is checked to
 * change nothing of A, so the next case may reuse them; a call that went through may have (a
 * deletion), so the next case seeds afresh. B holds keys only: nothing of its own for a lease to find.
 */
let projects: { route: string; a: Tenant; b: ProjectKeys } | null = null;
let seeded = 0;
async function projectsFor(route: string) {
  if (projects?.route !== route) {
    seeded += 1;
    projects = { route, a: await seedTenant(t, `a-${seeded}`), b: await projectKeys(t, `b-${seeded}`) };
  }
  return projects;
}

async function send(call: Call, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const binary = call.body instanceof Uint8Array;
  const response = await t.raw.request(call.path, {
    method: call.method,
    headers: {
      ...headers,
      ...call.headers,
      ...(call.body !== undefined
        ? { "content-type": binary ? "application/octet-stream" : "application/json" }
        : {}),
    },
    ...(call.body !== undefined
      ? { body: binary ? (call.body as Uint8Array) : JSON.stringify(call.body) }
      : {}),
  });
  // An event stream stays open: its status is the answer.
  if (response.headers.get("content-type") === "text/event-stream") {
    await response.body?.cancel();
    return { status: response.status, text: "" };
  }
  return { status: response.status, text: await response.text() };
}

describe.each(CASES)("$route, $role key of the $project project", ({ route, role, project }) => {
  it("is scoped to its project", async () => {
    const scope = SCOPES[route];
    if (!scope) throw new Error(`${route} has no entry in SCOPES`);
    const { a, b } = await projectsFor(route);
    const caller = (project === "same" ? a.keys : b)[role];
    const before = await footprint(t, a.project);
    const answer = await send(scope.call(a), caller.headers);
    const crosses = role === "operator" && scope.operatorsReachEveryProject === true;
    if (!scope.roles.includes(role)) {
      expect(answer.status, answer.text).toBe(403);
      expect(JSON.parse(answer.text)).toMatchObject({ code: "forbidden" });
    } else if (project === "same" || crosses) {
      projects = null;
      expect(answer.status, answer.text).toBe(scope.same);
      if (scope.shows) expect(answer.text).toContain(scope.shows(a));
      return;
    } else if (typeof scope.other === "number") {
      expect(answer.status, answer.text).toBe(scope.other);
      const problem = JSON.parse(answer.text) as { code: string; errors?: { path: string }[] };
      expect(problem.code).toBe(scope.other === 404 ? "not_found" : "forbidden");
      // Refused for naming another project: the problem says which field.
      if (scope.other === 403) expect(problem.errors?.map((e) => e.path)).toEqual(["project"]);
    } else {
      expect(answer.status, answer.text).toBe(scope.other.own);
      for (const id of tenantIds(a)) expect(answer.text).not.toContain(id);
    }
    expect(await footprint(t, a.project)).toBe(before);
  });
});
