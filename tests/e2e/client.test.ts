import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
// Imported by the package name: the `exports` entry is what a user of the client gets.
import {
  type AutoprogClient,
  type components,
  createAutoprogClient,
  type FollowedEvent,
  followRunEvents,
  unwrap,
} from "autoprog/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServerProcess, startServer } from "../../support/server-process.ts";
import { tinySpec } from "../api/helpers.ts";

/**
 * The real server driven only through autoprog/client and the `autoprog` executable (a child
 * process, as a user runs it). The server gets a bootstrap admin key and every call sends it,
 * so the test holds once API keys are enforced.
 */
const KEY = `ap_${randomBytes(16).toString("hex")}`;
const exec = promisify(execFile);
let server: ServerProcess;
let client: AutoprogClient;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "autoprog-client-e2e-"));
  server = await startServer(join(dir, "data"), { AUTOPROG_BOOTSTRAP_KEY: KEY }, 240_000);
  client = createAutoprogClient({ api: server.url, key: KEY });
}, 300_000);
afterAll(async () => {
  await server?.stop();
});

async function cli(args: string[], env: Record<string, string> = { AUTOPROG_API_KEY: KEY }) {
  try {
    const { stdout, stderr } = await exec(process.execPath, ["src/cli/autoprog.mjs", ...args], {
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function specFile(name: string, spec: unknown): Promise<string> {
  const path = join(dir, `${name}.json`);
  await writeFile(path, JSON.stringify(spec));
  return path;
}

async function collect(iterable: AsyncIterable<FollowedEvent>): Promise<FollowedEvent[]> {
  const out: FollowedEvent[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

// Each CLI call is a fresh node process and training shares the CPU: generous per-test limits.
describe("autoprog/client and the CLI against the real server", { timeout: 600_000 }, () => {
  it("submit --watch trains a growing run to the end; runs list/show report it; events replay whole", async () => {
    const path = await specFile("prog", {
      ...tinySpec({ name: "client-e2e" }),
      arms: [{ arm: "prog" }],
      training: { epochs: 2, stages: 2, batchSize: 32, lr: 2e-3, warmupEpochs: 0, evalBatchSize: 64 },
    });
    const submitted = await cli(["submit", path, "--watch", "--api", server.url]);
    expect(submitted.stderr).toBe("");
    expect(submitted.code).toBe(0);
    const experimentId = submitted.stdout.match(/^experiment (exp_\S+) \(client-e2e\): 1 runs$/m)?.[1];
    const runId = submitted.stdout.match(/^(run_\S+): prog seed 0, 2 epochs/m)?.[1];
    expect(experimentId).toBeDefined();
    expect(runId).toBeDefined();
    // Not a terminal: plain lines, one per stage, epoch, growth, then the result.
    // Stages and epochs from 0, as the API numbers them.
    expect(submitted.stdout).toMatch(/^stage 0: epoch 0, depth 1/m);
    expect(submitted.stdout).toMatch(/^ {2}grown \(mogrow\): 1@\d+ → 2@\d+/m);
    expect(submitted.stdout).toMatch(/^epoch 1: loss /m);
    expect(submitted.stdout).not.toMatch(/^epoch 2: /m);
    expect(submitted.stdout).toMatch(/^done: top-1 \d+\.\d\d% \(best \d+\.\d\d%\)/m);

    const listed = await cli([
      "runs",
      "list",
      "--experiment",
      String(experimentId),
      "--json",
      "--api",
      server.url,
    ]);
    expect(listed.code).toBe(0);
    const page = JSON.parse(listed.stdout) as {
      items: { id: string; state: string; epochsCompleted: number }[];
    };
    expect(page.items.map((r) => [r.id, r.state, r.epochsCompleted])).toEqual([[runId, "completed", 2]]);
    const table = await cli(["runs", "list", "--api", server.url]);
    expect(table.stdout).toMatch(new RegExp(`^${runId} +${experimentId} +prog +0 +completed +2/2 +\\d`, "m"));

    // Tags and a note from the CLI, then found by them across experiments.
    const tagged = await cli([
      "runs",
      "tag",
      String(runId),
      "keep",
      "e2e",
      "--note",
      "the client test",
      "--api",
      server.url,
    ]);
    expect(tagged.stderr).toBe("");
    expect(tagged.stdout).toMatch(/^tags: +keep, e2e$/m);
    expect(tagged.stdout).toMatch(/^note: +the client test$/m);
    const found = await cli([
      "runs",
      "list",
      "--tag",
      "keep,e2e",
      "--state",
      "completed",
      "--json",
      "--api",
      server.url,
    ]);
    expect((JSON.parse(found.stdout) as { items: { id: string }[] }).items.map((r) => r.id)).toEqual([runId]);
    const misspelt = await cli(["runs", "list", "--state", "done", "--api", server.url]);
    expect(misspelt.code).toBe(1);
    expect(misspelt.stderr).toMatch(/^ {2}query state\.0: /m);

    const shown = await cli(["runs", "show", String(runId), "--api", server.url]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^state: +completed$/m);
    const run = unwrap(await client.GET("/v1/runs/{id}", { params: { path: { id: String(runId) } } }));
    expect(run).toMatchObject({ state: "completed", epochsCompleted: 2 });

    const events = await collect(followRunEvents(client, String(runId)));
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: run.lastSeq }, (_, i) => i + 1));
    expect(events[0]?.event.type).toBe("run.started");
    expect(events.filter((e) => e.event.type === "epoch.completed")).toHaveLength(2);
    const last = events.at(-1)?.event;
    expect(last?.type === "run.completed" && last.result.top1).toBe(run.top1);
    // Resuming after any seq gives exactly the rest.
    const rest = await collect(followRunEvents(client, String(runId), { after: 3 }));
    expect(rest.map((e) => e.seq)).toEqual(events.slice(3).map((e) => e.seq));

    // Its trained weights: the finished run keeps its newest checkpoint (which `runs download` cuts)
    // and the one closing stage 0 (a fork may start there).
    const held = await cli(["runs", "checkpoints", String(runId), "--json", "--api", server.url]);
    expect(JSON.parse(held.stdout)).toMatchObject({ items: [{ epoch: 1 }, { epoch: 2 }] });
    const modelFile = join(dir, "model.safetensors");
    const downloaded = await cli([
      "runs",
      "download",
      String(runId),
      "--weights",
      "ema-slow",
      "-o",
      modelFile,
      "--api",
      server.url,
    ]);
    expect(downloaded.stderr).toBe("");
    expect(downloaded.stdout).toMatch(/model\.safetensors: \d+ bytes/);
    const file = await readFile(modelFile);
    const header = JSON.parse(file.subarray(8, 8 + Number(file.readBigUInt64LE(0))).toString("utf8"));
    expect(header.__metadata__).toMatchObject({ weights: "ema-slow", run: runId, epoch: "2", arm: "prog" });
    expect(JSON.parse(header.__metadata__.architecture)).toMatchObject({ depth: 2, width: 32 });
    const unknown = await cli([
      "runs",
      "download",
      String(runId),
      "--weights",
      "ema-none",
      "--api",
      server.url,
    ]);
    expect(unknown.code).toBe(1);
    // A fork from stage 1 (it starts from the checkpoint closing stage 0, kept for it) trains to its end.
    const forked = await cli([
      "runs",
      "fork",
      String(runId),
      "--from-stage",
      "1",
      "--json",
      "--api",
      server.url,
    ]);
    expect(forked.stderr).toBe("");
    const fork = JSON.parse(forked.stdout) as { id: string; label: string; forkOf: unknown };
    expect(fork).toMatchObject({ label: "prog-fork-1", forkOf: { runId, epoch: 1 } });
    const watched = await cli(["watch", fork.id, "--no-progress", "--api", server.url]);
    expect(watched.code, watched.stderr).toBe(0);
    const forkShown = await cli(["runs", "show", fork.id, "--api", server.url]);
    expect(forkShown.stdout).toMatch(new RegExp(`^fork of: +${runId} after epoch 1$`, "m"));
    expect(forkShown.stdout).toMatch(/^state: +completed$/m);
    // A new experiment that starts from the run's trained weights (the spec's init) trains to its end.
    const tuned = await specFile("fine-tune", {
      ...tinySpec({ name: "fine-tune" }),
      training: { epochs: 1, batchSize: 32, lr: 2e-3, warmupEpochs: 0, evalBatchSize: 64 },
      init: { fromRun: runId, weights: "ema-slow" },
    });
    const fineTuned = await cli(["submit", tuned, "--watch", "--api", server.url]);
    expect(fineTuned.code, fineTuned.stderr).toBe(0);
    expect(fineTuned.stdout).toMatch(/^done: top-1 /m);
    expect(unknown.stderr).toContain(
      "query weights: this run has no ema-none weights; it has online, ema-fast, ema-slow",
    );
  });

  it("runs cancel stops a run; watch then reports it and exits 1; a second cancel is a clear 409", async () => {
    const created = unwrap(
      await client.POST("/v1/experiments", {
        // The document types the body with its defaults filled in (zod's output type), so a
        // partial spec that the server accepts needs a cast.
        body: {
          ...tinySpec({ name: "to-cancel" }),
          training: { epochs: 200, batchSize: 32, lr: 2e-3, warmupEpochs: 0, evalBatchSize: 64 },
        } as unknown as components["schemas"]["ExperimentSpec"],
      }),
    );
    if (!("runs" in created)) throw new Error("expected the created experiment");
    const runId = String(created.runs[0]?.id);
    const cancelled = await cli(["runs", "cancel", runId, "--api", server.url]);
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toContain(`${runId}: cancel requested`);

    const watched = await cli(["watch", runId, "--api", server.url]);
    expect(watched.code).toBe(1);
    const run = unwrap(await client.GET("/v1/runs/{id}", { params: { path: { id: runId } } }));
    expect(run.state).toBe("cancelled");
    expect(run.epochsCompleted).toBeLessThan(200);

    const again = await cli(["runs", "cancel", runId, "--api", server.url]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`error: The run has already ended: run ${runId} is already cancelled\n`);
  });

  it("says what is wrong: a bad spec, an unknown run, an unreachable server", async () => {
    const bad = await cli([
      "submit",
      await specFile("bad", { name: "x", dataset: { name: "svhn" } }),
      "--api",
      server.url,
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: The request is not valid/);
    expect(bad.stderr).toMatch(/^ {2}body dataset\.name: /m);

    // The key as a flag instead of AUTOPROG_API_KEY.
    const unknown = await cli(["runs", "show", "run_nope", "--api", server.url, "--key", KEY], {});
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe("error: Not found: no run run_nope\n");

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await cli(["runs", "list", "--api", url]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(`error: cannot reach the autoprog API at ${url}: connection refused\n`);
  });
});
