import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RunChangeFeed } from "../../db/database.ts";
import { getRunViewInProject } from "../../db/runs.ts";
import { runs } from "../../db/schema.ts";
import { RunAnswerCache } from "../../routes/runs/answer-cache.ts";
import { type Run, toRun } from "../../routes/runs/schema.ts";
import { ReplayKeys } from "../../src/worker/replay-key.ts";
import { epochCompleted, runStarted } from "../../support/fixtures.ts";
import { claimForTest, expectProblem, read, type TestApp, testApp, tinySpec } from "./helpers.ts";

/** A feed the test drives by hand. */
function manualFeed() {
  const listeners = new Set<(runId: string | null) => void>();
  const feed: RunChangeFeed = {
    listen(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  const change = (runId: string | null) => {
    for (const listener of listeners) listener(runId);
  };
  return { feed, change };
}

describe("RunAnswerCache", () => {
  it("keeps an answer for its run's project until the run changes", () => {
    const { feed, change } = manualFeed();
    const cache = new RunAnswerCache(10, feed);
    cache.keep("run_a", "p1", "A", cache.mark());
    cache.keep("run_b", "p1", "B", cache.mark());
    expect(cache.get("run_a", "p1")).toBe("A");
    expect(cache.get("run_a", "p2")).toBeUndefined();
    change("run_a");
    expect(cache.get("run_a", "p1")).toBeUndefined();
    expect(cache.get("run_b", "p1")).toBe("B");
    change(null);
    expect(cache.size).toBe(0);
  });

  it("refuses an answer read before a change (the read may predate it)", () => {
    const { feed, change } = manualFeed();
    const cache = new RunAnswerCache(10, feed);
    const mark = cache.mark();
    change("run_other");
    cache.keep("run_a", "p1", "stale?", mark);
    expect(cache.get("run_a", "p1")).toBeUndefined();
  });

  it("holds at most its capacity, dropping the oldest; 0 keeps nothing", () => {
    const { feed } = manualFeed();
    const cache = new RunAnswerCache(2, feed);
    for (const id of ["run_a", "run_b", "run_c"]) cache.keep(id, "p1", id, cache.mark());
    expect([cache.get("run_a", "p1"), cache.get("run_b", "p1"), cache.get("run_c", "p1")]).toEqual([
      undefined,
      "run_b",
      "run_c",
    ]);
    const none = new RunAnswerCache(0, feed);
    none.keep("run_a", "p1", "A", none.mark());
    expect(none.size).toBe(0);
  });
});

describe("GET /v1/runs/{id} with kept answers", () => {
  let t: TestApp;
  let id: string;
  beforeEach(async () => {
    t = testApp();
    const created = await read<{ runs: { id: string }[] }>(t.post("/v1/experiments", tinySpec()));
    id = created.runs[0]?.id ?? "";
  });
  afterEach(() => t.close());

  /** The GET's answer, checked against one built from the row as it is now. */
  async function getAndCompare(): Promise<Run> {
    const response = await t.app.request(`/v1/runs/${id}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json");
    const answer = (await response.json()) as Run;
    const row = await getRunViewInProject(t.db, id, "default");
    expect(row).toBeDefined();
    expect(answer).toEqual(row && JSON.parse(JSON.stringify(toRun(row))));
    return answer;
  }

  it("answers from memory, and the same bytes as from the row", async () => {
    const first = await t.app.request(`/v1/runs/${id}`);
    expect(t.runAnswers.get(id, "default")).toBeDefined();
    const again = await t.app.request(`/v1/runs/${id}`);
    expect(await again.text()).toBe(await first.text());
    expect(again.headers.get("content-type")).toBe(first.headers.get("content-type"));
  });

  it("shows every kind of change at once: routes, the event sink, the queue, a direct write", async () => {
    await getAndCompare();
    await t.app.request(`/v1/runs/${id}`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ note: "first look", tags: ["x"] }),
    });
    expect(await getAndCompare()).toMatchObject({ note: "first look", tags: ["x"] });

    const claimed = await claimForTest(t.db);
    expect(claimed?.id).toBe(id);
    const started = await getAndCompare();
    const keys = new ReplayKeys();
    for (const event of [runStarted(), epochCompleted(0)]) {
      await t.sink.record(id, claimed?.attempt ?? 1, event, keys.next(event));
    }
    const trained = await getAndCompare();
    expect(trained.epochsCompleted).toBe(started.epochsCompleted + 1);

    await t.app.request(`/v1/runs/${id}/cancel`, { method: "POST" });
    expect((await getAndCompare()).cancelRequested).toBe(true);

    t.db.update(runs).set({ top1: 0.75 }).where(eq(runs.id, id)).run();
    expect((await getAndCompare()).top1).toBe(0.75);
  });

  it("a kept answer is no answer to another project's key, and a deleted run's is gone", async () => {
    await getAndCompare();
    const outsider = await t.keyFor("elsewhere", "admin");
    await expectProblem(
      await t.app.request(`/v1/runs/${id}`, { headers: outsider.headers }),
      404,
      "not_found",
    );
    const experimentId = (await getAndCompare()).experimentId;
    const deleted = await t.app.request(`/v1/experiments/${experimentId}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${(await t.keyFor("default", "admin")).key}` },
    });
    expect(deleted.status).toBe(204);
    await expectProblem(await t.app.request(`/v1/runs/${id}`), 404, "not_found");
  });
});
