import { eq, inArray } from "drizzle-orm";
import { expect } from "vitest";
import * as schema from "../../db/schema.ts";
import { recordAttempt } from "../../db/webhooks.ts";
import { packCheckpoint } from "../../src/checkpoints/wire.ts";
import { type TestApp, tinySpec } from "./helpers.ts";

type Headers = { authorization: string };

/** One key of each role of a project. */
export type ProjectKeys = Record<schema.KeyRole, { id: string; headers: Headers }>;

/** A project holding one of every resource a route can address, and the ids that name them. */
export interface Tenant {
  readonly project: string;
  readonly keys: ProjectKeys;
  /** An experiment whose runs are all queued (safe to delete or cancel). */
  readonly experimentId: string;
  readonly queuedRunId: string;
  /** A run leased by the project's worker, with a checkpoint of epoch 1. */
  readonly leasedRunId: string;
  readonly leaseToken: string;
  readonly webhookId: string;
  readonly deliveryId: string;
}

export const HOOK = { url: "https://hooks.example.com/autoprog", events: ["run.succeeded"] };

/** A checkpoint of epoch 1 whose meta has what a model download reads (one tensor, the head's bias). */
export const packedCheckpoint = () =>
  packCheckpoint({
    meta: new TextEncoder().encode(
      JSON.stringify({
        epoch: 1,
        format: "test",
        config: {
          imageSize: 4,
          patchSize: 2,
          channels: 1,
          width: 2,
          depth: 1,
          heads: 1,
          mlpRatio: 1,
          numClasses: 1,
        },
        activeBlocks: [true],
        side: 4,
        step: 1,
        arm: "original",
        seed: 0,
        emaDecays: {},
        index: [{ name: "online/head.b", shape: [1], offset: 0 }],
      }),
    ),
    data: new Uint8Array([1, 2, 3, 4]),
  });

export async function projectKeys(t: TestApp, project: string): Promise<ProjectKeys> {
  const keys: Partial<ProjectKeys> = {};
  for (const role of schema.KEY_ROLES) keys[role] = await t.keyFor(project, role);
  return keys as ProjectKeys;
}

async function created<T>(response: Response | Promise<Response>, status = 201): Promise<T> {
  const answer = await response;
  expect(answer.status, await answer.clone().text()).toBe(status);
  return (await answer.json()) as T;
}

/** Builds a tenant through the API itself, as its member and worker would. */
export async function seedTenant(t: TestApp, project: string): Promise<Tenant> {
  const keys = await projectKeys(t, project);
  type Experiment = { id: string; runs: { id: string }[] };
  const busy = await created<Experiment>(
    t.post("/v1/experiments", tinySpec({ name: "busy" }), keys.member.headers),
  );
  const grant = await created<{ run: { id: string }; lease: { token: string } }>(
    t.post("/v1/workers/lease", { worker: "w" }, keys.worker.headers),
    200,
  );
  expect(grant.run.id).toBe(busy.runs[0]?.id);
  const stored = await t.app.request(`/v1/runs/${grant.run.id}/checkpoints/1`, {
    method: "PUT",
    headers: {
      ...keys.worker.headers,
      "autoprog-lease-token": grant.lease.token,
      "content-type": "application/octet-stream",
    },
    body: packedCheckpoint(),
  });
  expect(stored.status).toBe(204);
  const idle = await created<Experiment>(
    t.post("/v1/experiments", tinySpec({ name: "idle" }), keys.member.headers),
  );
  const webhook = await created<{ id: string }>(t.post("/v1/webhooks", HOOK, keys.member.headers));
  const queued = await created<{ messageId: string }>(
    t.app.request(`/v1/webhooks/${webhook.id}/test`, { method: "POST", headers: keys.member.headers }),
    202,
  );
  const [outbox] = await t.db
    .select()
    .from(schema.webhookOutbox)
    .where(eq(schema.webhookOutbox.messageId, queued.messageId));
  if (!outbox) throw new Error("the test message was not queued");
  const deliveryId = `dlv_${project.replaceAll("-", "")}`;
  await recordAttempt(t.db, {
    id: deliveryId,
    row: { ...outbox, attempts: 1 },
    status: 204,
    durationMs: 1,
    error: null,
    now: 0,
    next: { state: "delivered" },
  });
  return {
    project,
    keys,
    experimentId: idle.id,
    queuedRunId: idle.runs[0]?.id as string,
    leasedRunId: grant.run.id,
    leaseToken: grant.lease.token,
    webhookId: webhook.id,
    deliveryId,
  };
}

/** Every id of the tenant (what another project's answers must never name). */
export const tenantIds = (a: Tenant) => [
  a.experimentId,
  a.queuedRunId,
  a.leasedRunId,
  a.leaseToken,
  a.webhookId,
  a.deliveryId,
  ...Object.values(a.keys).map((k) => k.id),
];

/** Everything stored of a project, as text: equal before and after a call means it changed nothing. */
export async function footprint(t: TestApp, project: string): Promise<string> {
  const { db } = t;
  const experiments = await db
    .select()
    .from(schema.experiments)
    .where(eq(schema.experiments.projectId, project));
  const experimentIds = experiments.map((e) => e.id);
  const runs = await db.select().from(schema.runs).where(inArray(schema.runs.experimentId, experimentIds));
  const runIds = runs.map((r) => r.id);
  const events = await db.select().from(schema.runEvents).where(inArray(schema.runEvents.runId, runIds));
  // Without lastUsedAt: a refused call still records its own key's use.
  const keys = (await db.select().from(schema.apiKeys).where(eq(schema.apiKeys.projectId, project))).map(
    ({ lastUsedAt: _, ...key }) => key,
  );
  const endpoints = await db
    .select()
    .from(schema.webhookEndpoints)
    .where(eq(schema.webhookEndpoints.projectId, project));
  const endpointIds = endpoints.map((e) => e.id);
  const outbox = await db
    .select()
    .from(schema.webhookOutbox)
    .where(inArray(schema.webhookOutbox.endpointId, endpointIds));
  const deliveries = await db
    .select()
    .from(schema.webhookDeliveries)
    .where(inArray(schema.webhookDeliveries.endpointId, endpointIds));
  const checkpoints = [...t.checkpoints.blobs.keys()].filter((k) => runIds.includes(k.split("/")[0] ?? ""));
  return JSON.stringify({ experiments, runs, events, keys, endpoints, outbox, deliveries, checkpoints });
}
