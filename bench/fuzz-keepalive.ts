import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { Pool } from "undici";
import { createRandom, type Random, randomInt } from "../src/core/random.ts";
import { tinySpec } from "../support/fixtures.ts";
import { SERVER_KEY, startServer } from "../support/server-process.ts";

/**
 * `npx tsx bench/fuzz-keepalive.ts [--requests N] [--seed S]`: issue 23's keep-alive fuzz. The
 * real server (a child process, as `npm start`) on 127.0.0.1 only, and a keep-alive undici pool
 * sending a bounded, seeded mix of bad requests (oversize bodies with and without a length,
 * wrong content types, unknown routes with bodies, broken JSON, wrong keys, bodies past the
 * drain bound) between normal ones. It reports socket errors (a request that got no answer),
 * 5xx answers, the status counts and how many connections were opened.
 */
const argument = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
};
const REQUESTS = Math.min(argument("requests", 6000), 50_000);
const SEED = argument("seed", 23);
const IN_FLIGHT = 8;
const MIB = 1024 * 1024;

const KEY = { authorization: `Bearer ${SERVER_KEY}` };
const JSON_TYPE = { ...KEY, "content-type": "application/json" };

interface Shot {
  readonly kind: string;
  readonly method: "GET" | "POST" | "PUT" | "DELETE" | "PATCH";
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: Buffer | Readable | string;
}

/** A body sent without a length (Transfer-Encoding: chunked). */
function chunked(bytes: number): Readable {
  return Readable.from(
    (function* () {
      for (let sent = 0; sent < bytes; sent += 64 * 1024)
        yield Buffer.alloc(Math.min(64 * 1024, bytes - sent), 97);
    })(),
  );
}

const SPEC = JSON.stringify(tinySpec());
const UNKNOWN_ROUTES = ["/v1/nothing", "/nothing", "/v1/runs/x/y/z", "/v1/experiments/x/nope", "/ui/../v1"];
const OTHER_TYPES = [
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "",
];

/** One request of the mix, drawn from `random`. */
function draw(random: Random): Shot {
  const pick = <T>(items: readonly T[]) => items[randomInt(random, items.length)] as T;
  const size = (min: number, max: number) => min + randomInt(random, max - min);
  switch (randomInt(random, 10)) {
    case 0:
      return {
        kind: "oversize",
        method: "POST",
        path: "/v1/experiments",
        headers: JSON_TYPE,
        body: Buffer.alloc(size(MIB + 1, 3 * MIB), 97),
      };
    case 1:
      return {
        kind: "oversize chunked",
        method: "POST",
        path: "/v1/experiments",
        headers: JSON_TYPE,
        body: chunked(size(MIB + 1, 3 * MIB)),
      };
    case 2: {
      const type = pick(OTHER_TYPES);
      const headers: Record<string, string> = type ? { ...KEY, "content-type": type } : { ...KEY };
      return {
        kind: "wrong type",
        method: pick(["POST", "PUT", "PATCH"] as const),
        path: "/v1/experiments",
        headers,
        body: Buffer.alloc(size(1, 512 * 1024), 98),
      };
    }
    case 3:
      return {
        kind: "unknown route",
        method: pick(["POST", "PUT", "DELETE", "PATCH"] as const),
        path: pick(UNKNOWN_ROUTES),
        headers: JSON_TYPE,
        body: SPEC.repeat(size(1, 200)),
      };
    case 4:
      return {
        kind: "broken json",
        method: "POST",
        path: "/v1/experiments",
        headers: JSON_TYPE,
        body: SPEC.slice(0, size(0, SPEC.length)),
      };
    case 5:
      return {
        kind: "wrong key",
        method: "POST",
        path: "/v1/experiments",
        headers: { ...JSON_TYPE, authorization: `Bearer ap_${randomInt(random, 1e9)}` },
        body: Buffer.alloc(size(1, 900 * 1024), 99),
      };
    case 6:
      // Past the server's drain bound (8 MiB): answered with Connection: close.
      return {
        kind: "past the drain bound",
        method: "POST",
        path: "/v1/experiments",
        headers: JSON_TYPE,
        body: Buffer.alloc(size(9 * MIB, 12 * MIB), 97),
      };
    case 7:
      return {
        kind: "validate",
        method: "POST",
        path: "/v1/experiments?validate_only=true",
        headers: JSON_TYPE,
        body: SPEC,
      };
    default:
      return { kind: "normal", method: "GET", path: pick(["/v1/experiments", "/healthz"]), headers: KEY };
  }
}

const dataDir = await mkdtemp(join(tmpdir(), "autoprog-fuzz-"));
const server = await startServer(dataDir, {
  AUTOPROG_HOST: "127.0.0.1",
  AUTOPROG_CONCURRENCY: "0",
  AUTOPROG_RATE_LIMIT_PER_MINUTE: "100000000",
  AUTOPROG_AUTH_FAILURES_PER_MINUTE: "100000000",
});
const pool = new Pool(server.url, { connections: IN_FLIGHT, pipelining: 1 });
let connections = 0;
pool.on("connect", () => connections++);

const statuses = new Map<number, number>();
const socketErrors = new Map<string, number>();
/** Answers that closed their connection (`Connection: close`), by kind of request. */
const closedBy = new Map<string, number>();
let serverErrors = 0;
let done = 0;
const random = createRandom(SEED);
const started = performance.now();

async function worker() {
  while (done < REQUESTS) {
    done++;
    const shot = draw(random);
    try {
      const response = await pool.request({
        method: shot.method,
        path: shot.path,
        headers: shot.headers,
        body: shot.body,
      });
      await response.body.text();
      if (response.headers.connection === "close")
        closedBy.set(shot.kind, (closedBy.get(shot.kind) ?? 0) + 1);
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
      if (response.statusCode >= 500) serverErrors++;
    } catch (error) {
      const code = (error as { code?: string }).code ?? String(error);
      socketErrors.set(`${shot.kind}: ${code}`, (socketErrors.get(`${shot.kind}: ${code}`) ?? 0) + 1);
    }
  }
}

try {
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
} finally {
  await pool.close();
  await server.stop();
  await rm(dataDir, { recursive: true, force: true });
}
const errors = [...socketErrors.values()].reduce((a, b) => a + b, 0);
console.log(
  JSON.stringify(
    {
      requests: done,
      seed: SEED,
      seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
      socketErrors: errors,
      serverErrors,
      connections,
      closedBy: Object.fromEntries(closedBy),
      statuses: Object.fromEntries([...statuses].sort(([a], [b]) => a - b)),
      ...(errors > 0 ? { socketErrorsByKind: Object.fromEntries(socketErrors) } : {}),
    },
    null,
    2,
  ),
);
process.exitCode = errors > 0 || serverErrors > 0 ? 1 : 0;
