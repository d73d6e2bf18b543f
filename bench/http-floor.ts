import { fork } from "node:child_process";
import { Agent, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";

/**
 * `npm run bench:http-floor`: the floor under bench/api.ts's GET measurement on this machine. A
 * bare node:http server (no Hono, no authentication, no database) in a child process, driven by
 * the same keep-alive client with 64 requests in flight and 20,000 requests. What it reports is
 * what the client and Node's HTTP stack cost by themselves on the shared cores: a route cannot
 * show a lower p99 than this in bench:api.
 */
const IN_FLIGHT = 64;
const TOTAL = 20_000;

if (process.argv[2] === "serve") {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"status":"ok"}');
  });
  server.listen(0, "127.0.0.1", () => process.send?.((server.address() as AddressInfo).port));
} else {
  const child = fork(fileURLToPath(import.meta.url), ["serve"], { execArgv: ["--import", "tsx"] });
  const port = await new Promise<number>((resolve) => child.once("message", (m) => resolve(Number(m))));
  const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  const get = () =>
    new Promise<number>((resolve, reject) => {
      const start = performance.now();
      const req = request({ host: "127.0.0.1", port, path: "/", agent }, (res) => {
        res.resume();
        res.on("end", () => resolve(performance.now() - start));
      });
      req.on("error", reject);
      req.end();
    });
  try {
    for (let i = 0; i < 500; i++) await get(); // warm-up
    const latencies: number[] = [];
    let issued = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (issued < TOTAL) {
          issued += 1;
          latencies.push(await get());
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const at = (p: number) => (latencies[Math.floor(p * latencies.length)] ?? 0).toFixed(2);
    console.log(
      `bare node:http server: ${(latencies.length / seconds).toFixed(0)} req/s over ${latencies.length} requests (${IN_FLIGHT} in flight), p50 ${at(0.5)} ms, p99 ${at(0.99)} ms`,
    );
  } finally {
    agent.destroy();
    child.kill();
  }
}
