import { type IncomingMessage, request } from "node:http";

/**
 * The SSE side of `npm run bench:api`, in its own process so the subscribers do not share the
 * server's event loop: opens N streams spread over the given runs (round-robin), reports when all
 * are connected, and at the end prints, for each run and seq, when the last of its subscribers
 * received it. Raw HTTP and a minimal reader of `id:` lines (a full SSE parser per stream would
 * make this process, not the server, the bottleneck at thousands of streams); it also counts
 * seqs that arrive twice or out of order.
 * Usage: tsx bench/sse-clients.ts <server url> <subscribers> <runId,runId,...>
 */
const [base, countArg, runsArg] = process.argv.slice(2);
const subscribers = Number(countArg);
const runIds = (runsArg ?? "").split(",").filter((id) => id !== "");
if (!base || !(subscribers > 0) || runIds.length === 0) {
  throw new Error("usage: sse-clients.ts <server url> <subscribers> <runId,...>");
}
const server = new URL(base);
const key = process.env.AUTOPROG_KEY ?? "";

const now = () => performance.timeOrigin + performance.now();
/** `${run index}:${seq}` → when its last subscriber had it. */
const lastArrival = new Map<string, number>();
let connected = 0;
let ended = 0;
let failed = 0;
let outOfOrder = 0;

function subscribe(runIndex: number): Promise<void> {
  return new Promise((resolve) => {
    let last = 0;
    let pending = "";
    const req = request(
      {
        host: server.hostname,
        port: server.port,
        path: `/v1/runs/${runIds[runIndex]}/events`,
        headers: { accept: "text/event-stream", authorization: `Bearer ${key}` },
        agent: false,
      },
      (res: IncomingMessage) => {
        if (res.statusCode !== 200) {
          failed += 1;
          res.resume();
          resolve();
          return;
        }
        connected += 1;
        if (connected === subscribers) console.log(JSON.stringify({ connected }));
        res.setEncoding("utf8");
        res.on("data", (text: string) => {
          const at = now();
          pending += text;
          const cut = pending.lastIndexOf("\n\n");
          if (cut < 0) return;
          const complete = pending.slice(0, cut + 1);
          pending = pending.slice(cut + 2);
          if (complete.includes("event: end\n")) ended += 1;
          for (let i = complete.indexOf("\nid: "); i >= 0; i = complete.indexOf("\nid: ", i + 5)) {
            const seq = Number(complete.slice(i + 5, complete.indexOf("\n", i + 5)));
            if (seq !== last + 1) outOfOrder += 1;
            last = seq;
            const name = `${runIndex}:${seq}`;
            lastArrival.set(name, Math.max(lastArrival.get(name) ?? 0, at));
          }
        });
        res.on("close", () => resolve());
      },
    );
    req.on("error", () => {
      failed += 1;
      resolve();
    });
    req.end();
  });
}

const timeout = setTimeout(() => {
  console.log(JSON.stringify({ timedOut: true, connected, ended }));
  process.exit(1);
}, 300_000);
await Promise.all(Array.from({ length: subscribers }, (_, i) => subscribe(i % runIds.length)));
clearTimeout(timeout);
console.log(JSON.stringify({ ended, failed, outOfOrder, arrivals: Object.fromEntries(lastArrival) }));
