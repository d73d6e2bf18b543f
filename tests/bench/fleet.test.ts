import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

/** The fleet benchmark at toy size: it runs end to end and its own checks find nothing lost. */
describe("bench/fleet.ts", () => {
  it("drives workers and watchers against a server process and reports every route, nothing lost", async () => {
    const dir = await mkdtemp(join(tmpdir(), "autoprog-fleet-test-"));
    const out = join(dir, "fleet.json");
    try {
      const result = spawnSync(
        process.execPath,
        [
          "--import",
          "tsx",
          "bench/fleet.ts",
          ...["--workers", "4", "--watchers", "4", "--seconds", "4", "--epoch-seconds", "1"],
          ...["--heartbeat-seconds", "1", "--checkpoint-every", "2", "--checkpoint-bytes", "10000"],
          ...["--out", out],
        ],
        { encoding: "utf8", timeout: 120_000 },
      );
      expect(result.status, result.stderr).toBe(0);
      const summary = JSON.parse(await readFile(out, "utf8"));
      expect(summary).toMatchObject({
        workers: 4,
        watchersConnected: 4,
        lostLeases: 0,
        leaseDenied: 0,
        eventsDuplicate: 0,
        watcherGaps: 0,
        watcherDuplicates: 0,
        watcherDisconnects: 0,
        runsWhoseLogDiffers: 0,
      });
      expect(summary.eventsAccepted).toBeGreaterThan(4);
      expect(summary.watcherFramesReceived).toBe(summary.eventsAccepted);
      expect(summary.checkpointsUploaded).toBeGreaterThan(0);
      for (const route of [
        "POST /v1/workers/lease",
        "POST /v1/workers/heartbeat",
        "POST /v1/runs/{id}/events",
        "PUT /v1/runs/{id}/checkpoints/{epoch}",
      ]) {
        expect(summary.perRoute[route]?.requests, route).toBeGreaterThan(0);
        expect(summary.perRoute[route]?.errors, route).toEqual({});
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 150_000);
});
