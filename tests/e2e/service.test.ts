import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { followEvents, getJson, type ServerProcess, startServer } from "../../support/server-process.ts";
import { tinySpec } from "../api/helpers.ts";

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer(await mkdtemp(join(tmpdir(), "autoprog-e2e-")));
});
afterAll(async () => {
  await server?.stop();
});

interface Run {
  id: string;
  label: string;
  state: string;
  lastSeq: number;
}

describe("the service, end to end over HTTP", () => {
  it("trains two arms, streams every event exactly once across a reconnect, and reports", async () => {
    const spec = tinySpec({
      name: "e2e",
      arms: [{ arm: "original" }, { arm: "prog" }],
      training: { epochs: 4, stages: 2, batchSize: 32, lr: 2e-3, warmupEpochs: 0, evalBatchSize: 64 },
    });
    const created = await getJson<{ id: string; runs: Run[] }>(`${server.url}/v1/experiments`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": "e2e-1" },
      body: JSON.stringify(spec),
    });
    expect(created.runs.map((r) => r.label)).toEqual(["original", "prog"]);

    for (const run of created.runs) {
      const eventsUrl = `${server.url}/v1/runs/${run.id}/events`;
      // Disconnect after the third event, then resume from the last id seen.
      const first = await followEvents(eventsUrl, { stop: (messages) => messages.length === 3 });
      expect(first.ended).toBe(false);
      const lastId = first.messages.at(-1)?.id;
      const rest = await followEvents(eventsUrl, { ...(lastId ? { lastEventId: lastId } : {}) });
      expect(rest.ended).toBe(true);
      const all = [...first.messages, ...rest.messages.slice(0, -1)];
      const seqs = all.map((m) => Number(m.id));
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      expect(all[0]?.event).toBe("run.started");
      expect(all.at(-1)?.event).toBe("run.completed");
      expect(all.filter((m) => m.event === "epoch.completed")).toHaveLength(4);
      expect(JSON.parse(rest.messages.at(-1)?.data ?? "{}")).toEqual({
        state: "completed",
        lastSeq: seqs.length,
      });

      const stored = await getJson<Run>(`${server.url}/v1/runs/${run.id}`);
      expect(stored).toMatchObject({ state: "completed", lastSeq: seqs.length });
    }

    const progRun = created.runs[1]?.id;
    const growth = await getJson<{ items: { depth: number; operator: string | null }[] }>(
      `${server.url}/v1/runs/${progRun}/stages`,
    );
    expect(growth.items.map((s) => s.depth)).toEqual([1, 2]);
    expect(growth.items[1]?.operator).toBe("mogrow");

    const report = await getJson<{
      finished: boolean;
      baseline: string;
      arms: {
        arm: string;
        completed: number;
        top1: number;
        flopsSpeedup: number;
        trainSearchSpeedup: number;
      }[];
    }>(`${server.url}/v1/experiments/${created.id}/report`);
    expect(report).toMatchObject({ finished: true, baseline: "original" });
    expect(report.arms.map((a) => [a.arm, a.completed])).toEqual([
      ["original", 1],
      ["prog", 1],
    ]);
    expect(report.arms[1]?.flopsSpeedup).toBeGreaterThan(0.3);
    expect(report.arms[1]?.top1).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(report.arms[1]?.trainSearchSpeedup)).toBe(true);
  });

  it("serves its OpenAPI document and health on the real port", async () => {
    expect(await getJson(`${server.url}/healthz`)).toMatchObject({ status: "ok" });
    expect((await getJson<{ openapi: string }>(`${server.url}/openapi.json`)).openapi).toBe("3.1.0");
  });
});
