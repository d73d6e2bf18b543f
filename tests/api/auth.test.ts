import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ADMIN_KEY,
  expectProblem,
  MEMBER_KEY,
  read,
  type TestApp,
  tableCounts,
  testApp,
  tinySpec,
} from "./helpers.ts";

let t: TestApp;
let experimentId: string;
let runId: string;

async function setUp(options: Parameters<typeof testApp>[0] = {}) {
  t = testApp(options);
  const created = await read<{ id: string; runs: { id: string }[] }>(t.post("/v1/experiments", tinySpec()));
  experimentId = created.id;
  runId = created.runs[0]?.id as string;
}

afterEach(() => t.close());

/** Every member route, with the ids of project `default`'s experiment and run. */
const MEMBER_ROUTES: { name: string; method: string; path: () => string; scoped: boolean }[] = [
  { name: "GET /v1/experiments", method: "GET", path: () => "/v1/experiments", scoped: false },
  { name: "POST /v1/experiments", method: "POST", path: () => "/v1/experiments", scoped: false },
  {
    name: "GET /v1/experiments/{id}",
    method: "GET",
    path: () => `/v1/experiments/${experimentId}`,
    scoped: true,
  },
  {
    name: "GET /v1/experiments/{id}/report",
    method: "GET",
    path: () => `/v1/experiments/${experimentId}/report`,
    scoped: true,
  },
  {
    name: "GET /v1/experiments/{id}/runs",
    method: "GET",
    path: () => `/v1/experiments/${experimentId}/runs`,
    scoped: true,
  },
  {
    name: "DELETE /v1/experiments/{id}",
    method: "DELETE",
    path: () => `/v1/experiments/${experimentId}`,
    scoped: true,
  },
  { name: "GET /v1/runs/{id}", method: "GET", path: () => `/v1/runs/${runId}`, scoped: true },
  { name: "GET /v1/runs/{id}/stages", method: "GET", path: () => `/v1/runs/${runId}/stages`, scoped: true },
  { name: "GET /v1/runs/{id}/search", method: "GET", path: () => `/v1/runs/${runId}/search`, scoped: true },
  { name: "GET /v1/runs/{id}/metrics", method: "GET", path: () => `/v1/runs/${runId}/metrics`, scoped: true },
  { name: "GET /v1/runs/{id}/events", method: "GET", path: () => `/v1/runs/${runId}/events`, scoped: true },
  { name: "POST /v1/runs/{id}/cancel", method: "POST", path: () => `/v1/runs/${runId}/cancel`, scoped: true },
  {
    name: "POST /v1/runs/{id}/stream-token",
    method: "POST",
    path: () => `/v1/runs/${runId}/stream-token`,
    scoped: true,
  },
];

const call = (method: string, path: string, headers: Record<string, string> = {}) =>
  t.raw.request(path, {
    method,
    headers: { "content-type": "application/json", ...headers },
    ...(method === "POST" ? { body: JSON.stringify(tinySpec()) } : {}),
  });

describe.each(MEMBER_ROUTES)("$name (security)", ({ method, path, scoped }) => {
  beforeEach(() => setUp());

  it("is 401 without a key, with a wrong key and with a revoked key, and writes nothing", async () => {
    const revoked = await t.keyFor("default", "member");
    expect((await t.app.request(`/v1/keys/${revoked.id}`, { method: "DELETE", headers: admin })).status).toBe(
      204,
    );
    const before = await tableCounts(t.db);
    const none = await call(method, path());
    const body = await expectProblem(none, 401, "unauthenticated");
    expect(none.headers.get("www-authenticate")).toBe('Bearer realm="autoprog"');
    expect(body.detail).toBe("send `Authorization: Bearer <key>`");
    await expectProblem(
      await call(method, path(), { authorization: `Bearer ${MEMBER_KEY}x` }),
      401,
      "unauthenticated",
    );
    await expectProblem(await call(method, path(), { authorization: MEMBER_KEY }), 401, "unauthenticated");
    await expectProblem(await call(method, path(), revoked.headers), 401, "unauthenticated");
    expect(await tableCounts(t.db)).toEqual(before);
  });

  it("is 403 for a worker key", async () => {
    const worker = await t.keyFor("default", "worker");
    await expectProblem(await call(method, path(), worker.headers), 403, "forbidden");
  });

  it.runIf(scoped)("is 404 for another project's key (never 403), and changes nothing", async () => {
    const other = await t.keyFor("elsewhere", "member");
    const otherAdmin = await t.keyFor("elsewhere", "admin");
    const before = await tableCounts(t.db);
    const response = await call(method, path(), other.headers);
    await expectProblem(response, 404, "not_found");
    // An admin key of another project is no different.
    await expectProblem(await call(method, path(), otherAdmin.headers), 404, "not_found");
    expect(await tableCounts(t.db)).toEqual(before);
    expect((await t.app.request(`/v1/runs/${runId}`)).status).toBe(200);
  });
});

const admin = { authorization: `Bearer ${ADMIN_KEY}` };

describe("projects", () => {
  beforeEach(() => setUp());

  it("lists only the key's project's experiments; the admin key uses its own project", async () => {
    const other = await t.keyFor("elsewhere", "member");
    const theirs = await read<{ id: string }>(
      t.post("/v1/experiments", tinySpec({ name: "theirs" }), other.headers),
    );
    const listed = (headers: Record<string, string>) =>
      read<{ items: { id: string }[] }>(t.app.request("/v1/experiments", { headers }));
    expect((await listed(other.headers)).items.map((e) => e.id)).toEqual([theirs.id]);
    expect((await listed({})).items.map((e) => e.id)).toEqual([experimentId]);
    expect((await listed(admin)).items.map((e) => e.id)).toEqual([experimentId]);
  });

  it("keeps Idempotency-Keys apart: another project's same key creates its own experiment", async () => {
    const mine = await read<{ id: string }>(
      t.post("/v1/experiments", tinySpec(), { "idempotency-key": "same" }),
    );
    const other = await t.keyFor("elsewhere", "member");
    const response = await t.post("/v1/experiments", tinySpec(), {
      "idempotency-key": "same",
      ...other.headers,
    });
    expect(response.status).toBe(201);
    expect(response.headers.get("idempotent-replayed")).toBeNull();
    expect((await read<{ id: string }>(response)).id).not.toBe(mine.id);
  });
});

interface Key {
  id: string;
  project: string;
  role: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  key?: string;
}

describe("/v1/keys", () => {
  beforeEach(() => setUp());

  it("is 403 for a member key and a worker key", async () => {
    const worker = await t.keyFor("default", "worker");
    for (const headers of [{}, worker.headers]) {
      await expectProblem(await t.app.request("/v1/keys", { headers }), 403, "forbidden");
      await expectProblem(
        await t.post("/v1/keys", { project: "p", role: "member", name: "n" }, headers),
        403,
        "forbidden",
      );
      await expectProblem(
        await t.app.request("/v1/keys/key_admin", { method: "DELETE", headers }),
        403,
        "forbidden",
      );
    }
  });

  it("creates a key shown once; it works at once, in its project only (an operator names any project)", async () => {
    const operator = await t.keyFor("default", "operator");
    const response = await t.post(
      "/v1/keys",
      { project: "team-a", role: "member", name: "ci" },
      operator.headers,
    );
    expect(response.status).toBe(201);
    const created = await read<Key>(response);
    expect(created).toMatchObject({ project: "team-a", role: "member", name: "ci", revokedAt: null });
    expect(created.key).toMatch(/^ap_[A-Za-z0-9_-]{43}$/);
    expect(response.headers.get("location")).toBe(`/v1/keys/${created.id}`);
    const headers = { authorization: `Bearer ${created.key}` };
    expect((await read<{ items: unknown[] }>(t.app.request("/v1/experiments", { headers }))).items).toEqual(
      [],
    );
    await expectProblem(
      await t.app.request(`/v1/experiments/${experimentId}`, { headers }),
      404,
      "not_found",
    );

    const listed = await read<{ items: Key[] }>(t.app.request("/v1/keys", { headers: operator.headers }));
    // Ordered by id (the fixtures' ids are not time-sortable ones, so compare as a set).
    expect(listed.items.map((k) => [k.id, k.project, k.role]).sort()).toEqual(
      [
        ["key_admin", "default", "admin"],
        ["key_member", "default", "member"],
        ["key_worker", "default", "worker"],
        [operator.id, "default", "operator"],
        [created.id, "team-a", "member"],
      ].sort(),
    );
    const text = JSON.stringify(listed);
    expect(text).not.toContain(created.key as string);
    expect(listed.items.every((k) => !("key" in k) && !("hash" in k))).toBe(true);
    // Used once just now: the use is recorded.
    expect(listed.items.find((k) => k.id === created.id)?.lastUsedAt).toBe("2026-01-01T00:00:00.000Z");
    const onlyA = await read<{ items: Key[] }>(
      t.app.request("/v1/keys?project=team-a", { headers: operator.headers }),
    );
    expect(onlyA.items.map((k) => k.id)).toEqual([created.id]);
  });

  it("lets an admin key manage its own project's keys only (issue 23: it was every project's)", async () => {
    const adminB = await t.keyFor("team-b", "admin");
    const operator = await t.keyFor("default", "operator");
    const before = await tableCounts(t.db);
    // Lists only its project's keys, and refuses to look at another's.
    const listed = await read<{ items: Key[] }>(t.app.request("/v1/keys", { headers: adminB.headers }));
    expect(listed.items.map((k) => k.id)).toEqual([adminB.id]);
    for (const project of ["default", "nowhere"]) {
      const refused = await expectProblem(
        await t.app.request(`/v1/keys?project=${project}`, { headers: adminB.headers }),
        403,
        "forbidden",
      );
      expect(refused.errors).toEqual([{ location: "query", path: "project", message: expect.any(String) }]);
    }
    // Creating a key for another project is 403 naming `project`, whether that project exists or not.
    for (const project of ["default", "nowhere"]) {
      const refused = await expectProblem(
        await t.post("/v1/keys", { project, role: "admin", name: "takeover" }, adminB.headers),
        403,
        "forbidden",
      );
      expect(refused.errors).toEqual([{ location: "body", path: "project", message: expect.any(String) }]);
    }
    // Another project's keys, operator keys included, do not exist for it.
    for (const id of ["key_admin", "key_member", operator.id]) {
      await expectProblem(
        await t.app.request(`/v1/keys/${id}`, { method: "DELETE", headers: adminB.headers }),
        404,
        "not_found",
      );
    }
    expect(await tableCounts(t.db)).toEqual(before);
    expect((await t.app.request("/v1/keys", { headers: admin })).status).toBe(200);
    // Its own project: `project` left out or named; operator keys are the CLI's only (422 on `role`).
    const own = await read<Key>(t.post("/v1/keys", { role: "member", name: "ci" }, adminB.headers));
    expect(own).toMatchObject({ project: "team-b", role: "member" });
    const named = await t.post("/v1/keys", { project: "team-b", role: "worker", name: "w" }, adminB.headers);
    expect(named.status).toBe(201);
    const operatorRole = await expectProblem(
      await t.post("/v1/keys", { role: "operator", name: "root" }, adminB.headers),
      422,
      "validation_failed",
    );
    expect((operatorRole.errors as { path: string }[]).map((e) => e.path)).toEqual(["role"]);
    // The default project's admin does not see, nor revoke, the operator key homed there either.
    const defaults = await read<{ items: Key[] }>(t.app.request("/v1/keys", { headers: admin }));
    expect(defaults.items.map((k) => k.id).sort()).toEqual(["key_admin", "key_member", "key_worker"]);
    await expectProblem(
      await t.app.request(`/v1/keys/${operator.id}`, { method: "DELETE", headers: admin }),
      404,
      "not_found",
    );
    expect((await t.app.request("/v1/keys", { headers: operator.headers })).status).toBe(200);
  });

  it("refuses a bad project, role or name with 422 and writes nothing", async () => {
    const before = await tableCounts(t.db);
    const response = await t.post("/v1/keys", { project: "Bad Name", role: "owner", name: "" }, admin);
    const problem = await expectProblem(response, 422, "validation_failed");
    expect((problem.errors as { path: string }[]).map((e) => e.path).sort()).toEqual([
      "name",
      "project",
      "role",
    ]);
    expect(await tableCounts(t.db)).toEqual(before);
  });

  it("revokes at once, harmlessly twice; unknown is 404; a project's last live admin key is 409", async () => {
    expect((await t.app.request("/v1/keys/key_member", { method: "DELETE", headers: admin })).status).toBe(
      204,
    );
    expect((await t.app.request("/v1/keys/key_member", { method: "DELETE", headers: admin })).status).toBe(
      204,
    );
    await expectProblem(await t.app.request("/v1/experiments"), 401, "unauthenticated");
    await expectProblem(
      await t.app.request("/v1/keys/key_nope", { method: "DELETE", headers: admin }),
      404,
      "not_found",
    );

    const last = await t.app.request("/v1/keys/key_admin", { method: "DELETE", headers: admin });
    await expectProblem(last, 409, "last_admin_key");
    // Another project's admin keys do not count (issue 23: they did), and it cannot revoke it anyway.
    const elsewhere = await t.keyFor("ops", "admin");
    await expectProblem(
      await t.app.request("/v1/keys/key_admin", { method: "DELETE", headers: elsewhere.headers }),
      404,
      "not_found",
    );
    const operator = await t.keyFor("ops", "operator");
    await expectProblem(
      await t.app.request("/v1/keys/key_admin", { method: "DELETE", headers: operator.headers }),
      409,
      "last_admin_key",
    );
    // A second admin key of the project lets the first go.
    const second = await t.keyFor("default", "admin");
    expect(
      (await t.app.request("/v1/keys/key_admin", { method: "DELETE", headers: second.headers })).status,
    ).toBe(204);
    await expectProblem(await t.app.request("/v1/keys", { headers: admin }), 401, "unauthenticated");
    const listed = await read<{ items: Key[] }>(t.app.request("/v1/keys", { headers: second.headers }));
    expect(listed.items.find((k) => k.id === "key_admin")?.revokedAt).toBe("2026-01-01T00:00:00.000Z");
  });

  it("lets an operator revoke any project's key, but not the last live operator key", async () => {
    const operator = await t.keyFor("default", "operator");
    const theirs = await t.keyFor("team-b", "member");
    expect(
      (await t.app.request(`/v1/keys/${theirs.id}`, { method: "DELETE", headers: operator.headers })).status,
    ).toBe(204);
    const last = await expectProblem(
      await t.app.request(`/v1/keys/${operator.id}`, { method: "DELETE", headers: operator.headers }),
      409,
      "last_admin_key",
    );
    expect(last.detail).toContain("last live operator key");
    const another = await t.keyFor("ops", "operator");
    expect(
      (await t.app.request(`/v1/keys/${operator.id}`, { method: "DELETE", headers: another.headers })).status,
    ).toBe(204);
    await expectProblem(
      await t.app.request("/v1/keys", { headers: operator.headers }),
      401,
      "unauthenticated",
    );
  });
});

describe("rate limits", () => {
  it("refuses failing requests from an address after too many failed authentications (429 + Retry-After); a good key goes on", async () => {
    await setUp({ auth: { failedAuthPerMinute: 3 } });
    const wrong = (n: number) => ({ authorization: `Bearer ap_wrong-${n}`, "x-test-client": "10.0.0.1" });
    for (let i = 0; i < 3; i++)
      await expectProblem(
        await t.app.request("/v1/experiments", { headers: wrong(i) }),
        401,
        "unauthenticated",
      );
    const blocked = await t.app.request("/v1/experiments", { headers: wrong(3) });
    const body = await expectProblem(blocked, 429, "rate_limited");
    expect(body.detail).toBe("too many failed authentications from this address");
    expect(blocked.headers.get("retry-after")).toBe("60");
    // Without a key the address is refused too; with a good key it is not.
    await expectProblem(
      await t.raw.request("/v1/experiments", { headers: { "x-test-client": "10.0.0.1" } }),
      429,
      "rate_limited",
    );
    const good = await t.app.request("/v1/experiments", { headers: { "x-test-client": "10.0.0.1" } });
    expect(good.status).toBe(200);
    // Another address is not affected; the window ends.
    expect(
      (await t.app.request("/v1/experiments", { headers: { ...wrong(4), "x-test-client": "10.0.0.2" } }))
        .status,
    ).toBe(401);
    t.advance(30_000);
    expect((await t.app.request("/v1/experiments", { headers: wrong(5) })).headers.get("retry-after")).toBe(
      "30",
    );
    t.advance(30_000);
    await expectProblem(
      await t.app.request("/v1/experiments", { headers: wrong(6) }),
      401,
      "unauthenticated",
    );
  });

  it("refuses a claimed key that failed too often from any address (429); the real key goes on", async () => {
    await setUp({ auth: { failedAuthPerMinute: 3 } });
    // A guess shares the member key's first characters; each try comes from another address.
    const guess = `${MEMBER_KEY.slice(0, 12)}${"x".repeat(32)}`;
    const from = (address: string) => ({ authorization: `Bearer ${guess}`, "x-test-client": address });
    for (let i = 0; i < 3; i++)
      await expectProblem(
        await t.app.request("/v1/experiments", { headers: from(`10.1.0.${i}`) }),
        401,
        "unauthenticated",
      );
    const blocked = await t.app.request("/v1/experiments", { headers: from("10.1.0.9") });
    expect((await expectProblem(blocked, 429, "rate_limited")).detail).toBe(
      "too many failed authentications for this key",
    );
    expect(blocked.headers.get("retry-after")).toBe("60");
    expect(
      (await t.app.request("/v1/experiments", { headers: { "x-test-client": "10.1.0.9" } })).status,
    ).toBe(200);
  });

  it("limits each key's requests per minute (429 + Retry-After); other keys go on", async () => {
    await setUp({ auth: { requestsPerMinute: 3 } });
    // setUp's POST used one of the member key's three.
    for (let i = 0; i < 2; i++) expect((await t.app.request("/v1/experiments")).status).toBe(200);
    const limited = await t.app.request("/v1/experiments");
    await expectProblem(limited, 429, "rate_limited");
    expect(limited.headers.get("retry-after")).toBe("60");
    expect((await t.app.request("/v1/experiments", { headers: admin })).status).toBe(200);
    t.advance(60_000);
    expect((await t.app.request("/v1/experiments")).status).toBe(200);
  });

  it("caps a key's concurrent event streams (429 + Retry-After) and frees a slot when a stream ends", async () => {
    await setUp({ auth: { streamsPerKey: 1 } });
    const first = await t.app.request(`/v1/runs/${runId}/events`);
    expect(first.status).toBe(200);
    const second = await t.app.request(`/v1/runs/${runId}/events`);
    await expectProblem(second, 429, "rate_limited");
    expect(second.headers.get("retry-after")).toBe("10");
    expect((await t.app.request(`/v1/runs/${runId}/events`, { headers: admin })).status).toBe(200);
    await first.body?.cancel();
    let third = await t.app.request(`/v1/runs/${runId}/events`);
    for (let i = 0; i < 50 && third.status === 429; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      third = await t.app.request(`/v1/runs/${runId}/events`);
    }
    expect(third.status).toBe(200);
    await third.body?.cancel();
  });
});

describe("stream tokens", () => {
  beforeEach(() => setUp());

  const mint = async (id: string, headers: Record<string, string> = {}) =>
    read<{ token: string; expiresAt: string; url: string }>(
      t.app.request(`/v1/runs/${id}/stream-token`, { method: "POST", headers }),
    );

  it("open their run's events without a header, and nothing else; they expire after 5 minutes", async () => {
    const { token, expiresAt, url } = await mint(runId);
    expect(expiresAt).toBe("2026-01-01T00:05:00.000Z");
    expect(url).toBe(`/v1/runs/${runId}/events?token=${encodeURIComponent(token)}`);
    const stream = await t.raw.request(url);
    expect(stream.status).toBe(200);
    expect(stream.headers.get("content-type")).toBe("text/event-stream");
    await stream.body?.cancel();

    const otherRun = await read<{ runs: { id: string }[] }>(
      t.post("/v1/experiments", tinySpec({ name: "b" })),
    );
    const q = `?token=${encodeURIComponent(token)}`;
    await expectProblem(
      await t.raw.request(`/v1/runs/${otherRun.runs[0]?.id}/events${q}`),
      401,
      "unauthenticated",
    );
    await expectProblem(await t.raw.request(`/v1/runs/${runId}${q}`), 401, "unauthenticated");
    await expectProblem(await t.raw.request(`/v1/experiments${q}`), 401, "unauthenticated");
    await expectProblem(await t.raw.request(`/v1/runs/${runId}/events${q}x`), 401, "unauthenticated");

    t.advance(5 * 60_000);
    await expectProblem(await t.raw.request(url), 401, "unauthenticated");
  });

  it("die with the key that minted them; another project cannot mint one for the run", async () => {
    const member = await t.keyFor("default", "member");
    const { url } = await mint(runId, member.headers);
    expect((await t.app.request(`/v1/keys/${member.id}`, { method: "DELETE", headers: admin })).status).toBe(
      204,
    );
    await expectProblem(await t.raw.request(url), 401, "unauthenticated");
    const other = await t.keyFor("elsewhere", "member");
    await expectProblem(
      await t.app.request(`/v1/runs/${runId}/stream-token`, { method: "POST", headers: other.headers }),
      404,
      "not_found",
    );
  });
});
