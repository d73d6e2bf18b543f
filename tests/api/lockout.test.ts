import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readEvents } from "../../db/events.ts";
import { getRun } from "../../db/runs.ts";
import { epochCompleted, runCompleted, runStarted } from "../../support/fixtures.ts";
import { expectProblem, read, type TestApp, testApp, tinySpec, WORKER } from "./helpers.ts";

/**
 * Issue 23: failed authentications from an address must not lock out the valid keys and pull
 * workers behind it (a shared NAT, a proxy without AUTOPROG_TRUST_PROXY).
 */
type Grant = { run: { id: string; attempt: number }; lease: { token: string } };

const ADDRESS = { "x-test-client": "203.0.113.7" };
const AS_WORKER = { ...WORKER, ...ADDRESS };

let t: TestApp;
let failures = 0;
beforeEach(() => {
  // A general budget of 4 a minute per key: the worker's heartbeats and batches must not need it.
  t = testApp({ auth: { requestsPerMinute: 4, workerRequestsPerMinute: 100 } });
  failures = 0;
});
afterEach(() => t.close());

/** `n` failed authentications from the shared address, each with another wrong key; all refused. */
async function failAuthentication(n: number) {
  for (let i = 0; i < n; i++, failures++) {
    const response = await t.raw.request("/v1/experiments", {
      headers: { authorization: `Bearer ap_guess-${failures}`, ...ADDRESS },
    });
    expect([401, 429]).toContain(response.status);
  }
}

describe("100 failed authentications from one address", () => {
  it("leave a valid key and a pull worker there working: the run finishes on its first attempt", async () => {
    await failAuthentication(25);
    // The address is over its limit now: failing requests get 429 with Retry-After.
    const refused = await t.raw.request("/v1/experiments", {
      headers: { authorization: "Bearer ap_x", ...ADDRESS },
    });
    await expectProblem(refused, 429, "rate_limited");
    expect(refused.headers.get("retry-after")).toBe("60");

    const submitted = await t.post("/v1/experiments", tinySpec({ seeds: [0] }), ADDRESS);
    expect(submitted.status).toBe(201);
    const runId = (await read<{ runs: { id: string }[] }>(submitted)).runs[0]?.id as string;
    await failAuthentication(25);

    const leased = await t.post("/v1/workers/lease", { worker: "w1" }, AS_WORKER);
    expect(leased.status).toBe(200);
    const grant = await read<Grant>(leased);
    expect(grant.run).toMatchObject({ id: runId, attempt: 1 });
    const token = grant.lease.token;

    // Ten heartbeats and ten event batches: more than the key's general budget of 4 a minute.
    const statuses: number[] = [];
    for (let epoch = 0; epoch < 10; epoch++) {
      await failAuthentication(4);
      const beat = await t.post("/v1/workers/heartbeat", { runId, token }, AS_WORKER);
      statuses.push(beat.status);
      const events =
        epoch === 0
          ? [
              { seq: 0, event: runStarted(0, 10), replayKey: null },
              { seq: 1, event: epochCompleted(0), replayKey: "epoch.completed@0#0" },
            ]
          : [{ seq: epoch + 1, event: epochCompleted(epoch), replayKey: `epoch.completed@${epoch}#0` }];
      statuses.push((await t.post(`/v1/runs/${runId}/events`, { token, events }, AS_WORKER)).status);
      t.advance(5_000);
    }
    const done = [{ seq: 11, event: runCompleted(), replayKey: "run.completed@10#0" }];
    statuses.push((await t.post(`/v1/runs/${runId}/events`, { token, events: done }, AS_WORKER)).status);
    expect(statuses).toEqual(new Array(21).fill(200));
    expect(failures).toBe(90);
    await failAuthentication(10);

    // The member key reads the result from the same address, and the run took one attempt.
    const run = await t.json(`/v1/runs/${runId}`, { headers: ADDRESS });
    expect(run.status).toBe(200);
    expect(await read(run)).toMatchObject({ state: "completed", attempt: 1 });
    expect(await getRun(t.db, runId)).toMatchObject({ state: "completed", attempt: 1 });
    const stored = await readEvents(t.db, runId, 0, 100);
    expect(new Set(stored.map((e) => e.attempt))).toEqual(new Set([1]));
    expect(stored.at(-1)?.type).toBe("run.completed");
    expect(failures).toBe(100);
  });

  it("the worker budget is separate both ways: lease polls spend the key's, heartbeats their own", async () => {
    t.close();
    t = testApp({ auth: { requestsPerMinute: 2, workerRequestsPerMinute: 3 } });
    await t.post("/v1/experiments", tinySpec({ seeds: [0] }));
    const grant = await read<Grant>(t.post("/v1/workers/lease", { worker: "w1" }, WORKER));
    const beat = { runId: grant.run.id, token: grant.lease.token };
    for (let i = 0; i < 3; i++)
      expect((await t.post("/v1/workers/heartbeat", beat, WORKER)).status).toBe(200);
    const over = await t.post("/v1/workers/heartbeat", beat, WORKER);
    expect((await expectProblem(over, 429, "rate_limited")).detail).toBe(
      "this worker key's heartbeats and event batches are over their limit",
    );
    // The general budget still has its second request, then it is spent too.
    expect((await t.post("/v1/workers/lease", { worker: "w1" }, WORKER)).status).toBe(204);
    await expectProblem(await t.post("/v1/workers/lease", { worker: "w1" }, WORKER), 429, "rate_limited");
    t.advance(60_000);
    expect((await t.post("/v1/workers/heartbeat", beat, WORKER)).status).toBe(200);
  });
});
