import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { EventSourceParserStream } from "eventsource-parser/stream";
import { Miniflare, type Request as MiniflareRequest, Response as MiniflareResponse } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";

/**
 * The Workers deployment run locally: wrangler builds src/cloudflare.ts exactly as `wrangler
 * deploy` would (`npm run cf:build`), wrangler applies db/migrations to a local D1 exactly as
 * `wrangler d1 migrations apply` would, and Miniflare runs the built bundle in workerd with the
 * bindings wrangler.toml declares. Nothing reaches Cloudflare: no account, no telemetry, and the
 * Worker's own outbound fetches go to `outbound` (by default: refused).
 */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** Where `npm run cf:build` writes (package.json; git-ignored under data/). */
export const BUILD_DIR = join(ROOT, "data", "cloudflare-build");
export const BUNDLE = join(BUILD_DIR, "cloudflare.js");
const CONFIG = join(ROOT, "wrangler.toml");
const WRANGLER = join(ROOT, "node_modules", ".bin", "wrangler");

const run = promisify(execFile);

/** The environment of a wrangler child: offline, no account, no telemetry, no colours. */
function offlineEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", CI: "1" };
  delete env.CLOUDFLARE_API_TOKEN;
  delete env.CLOUDFLARE_ACCOUNT_ID;
  return env;
}

export interface BuildOutput {
  /** wrangler's output (stdout and stderr), for the warnings check. */
  readonly log: string;
}

/** `npm run cf:build`: `wrangler deploy --dry-run` into BUILD_DIR. Rejects when it fails. */
export async function buildWorker(): Promise<BuildOutput> {
  const { stdout, stderr } = await run("npm", ["run", "--silent", "cf:build"], {
    cwd: ROOT,
    env: offlineEnv(),
    maxBuffer: 16 * 1024 * 1024,
  });
  return { log: `${stdout}\n${stderr}` };
}

/** A fresh local D1 store with every migration applied by `wrangler d1 migrations apply --local`. */
export async function migratedDatabase(): Promise<{ readonly persistTo: string; readonly log: string }> {
  const persistTo = await mkdtemp(join(tmpdir(), "autoprog-d1-"));
  const { stdout, stderr } = await run(
    WRANGLER,
    ["d1", "migrations", "apply", "autoprog", "--local", "--persist-to", persistTo],
    { cwd: ROOT, env: offlineEnv(), maxBuffer: 16 * 1024 * 1024 },
  );
  return { persistTo, log: `${stdout}\n${stderr}` };
}

/** Handles the Worker's outbound fetches (webhook deliveries) in this process. */
export type OutboundHandler = (request: MiniflareRequest) => MiniflareResponse | Promise<MiniflareResponse>;

export interface WorkerOptions {
  /** The `AUTOPROG_BOOTSTRAP_KEY` secret; absent: not set. */
  readonly bootstrapKey?: string;
  /** Where the D1 data lives (`--persist-to` of `migratedDatabase`). */
  readonly persistTo: string;
  readonly outbound?: OutboundHandler;
}

export interface RunningWorker {
  /** The Worker's address (workerd listening on loopback). */
  readonly url: URL;
  /** A request without credentials. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** A request with `Authorization: Bearer <key>`, and a JSON body when `json` is given. */
  fetchWithKey(key: string, path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  /** Runs the cron trigger's `scheduled` handler once; resolves with workerd's outcome. */
  scheduled(cron?: string): Promise<string>;
  /** New bindings (as a new deployment would): the next request runs in a fresh isolate. */
  restart(options: Partial<Omit<WorkerOptions, "persistTo">>): Promise<void>;
  stop(): Promise<void>;
}

const refuseOutbound: OutboundHandler = () => new MiniflareResponse("no network in tests", { status: 503 });

/** Starts the built bundle (BUNDLE) in workerd with wrangler.toml's bindings and the given secret. */
export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const { workerOptions } = unstable_getMiniflareWorkerOptions(CONFIG);
  const configure = (bootstrapKey: string | undefined, outbound: OutboundHandler) => ({
    ...workerOptions,
    modules: true,
    scriptPath: BUNDLE,
    bindings: {
      ...workerOptions.bindings,
      ...(bootstrapKey !== undefined ? { AUTOPROG_BOOTSTRAP_KEY: bootstrapKey } : {}),
    },
    // The layout `wrangler … --persist-to DIR` uses (DIR/v3/d1).
    d1Persist: join(options.persistTo, "v3", "d1"),
    outboundService: outbound,
    host: "127.0.0.1",
    port: 0,
  });
  let current = { bootstrapKey: options.bootstrapKey, outbound: options.outbound ?? refuseOutbound };
  const mf = new Miniflare(configure(current.bootstrapKey, current.outbound));
  let url = await mf.ready;
  const fetchPath = (path: string, init?: RequestInit) => fetch(new URL(path, url), init);
  return {
    get url() {
      return url;
    },
    fetch: fetchPath,
    fetchWithKey(key, path, init = {}) {
      const { json, ...rest } = init;
      const headers = new Headers(rest.headers);
      headers.set("authorization", `Bearer ${key}`);
      if (json !== undefined) headers.set("content-type", "application/json");
      return fetchPath(path, {
        ...rest,
        headers,
        ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
      });
    },
    async scheduled(cron = "* * * * *") {
      const worker = await mf.getWorker();
      return (await worker.scheduled({ cron })).outcome;
    },
    async restart(next) {
      current = {
        bootstrapKey: "bootstrapKey" in next ? next.bootstrapKey : current.bootstrapKey,
        outbound: next.outbound ?? current.outbound,
      };
      await mf.setOptions(configure(current.bootstrapKey, current.outbound));
      url = await mf.ready;
    },
    async stop() {
      await mf.dispose();
      await rm(options.persistTo, { recursive: true, force: true });
    },
  };
}

export interface SseMessage {
  readonly id: string | undefined;
  readonly event: string | undefined;
  readonly data: string;
}

/** Reads an event stream until an `end` event (or the stream ends), then cancels it. */
export async function readUntilEnd(response: Response): Promise<SseMessage[]> {
  if (!response.body) throw new Error("the event stream has no body");
  const messages: SseMessage[] = [];
  const reader = response.body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new EventSourceParserStream())
    .getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return messages;
      messages.push({ id: value.id, event: value.event, data: value.data });
      if (value.event === "end") return messages;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
