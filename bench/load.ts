import autocannon from "autocannon";

/**
 * The HTTP load of the benchmarks: autocannon (a well-kept HTTP/1.1 load generator) holding
 * `connections` keep-alive connections with one request in flight on each. It replaced a client
 * built on node:http's Agent, which on this 2-vCPU machine could not send more than ~16,000
 * requests/s even to a bare server, and whose own queueing made a p99 of 17–23 ms there: it
 * measured itself, not the server (autocannon: ~65,000 requests/s, p99 2 ms on that server).
 */
export interface LoadResult {
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Answers that were not 2xx, and connection errors or timeouts: a measurement with any is void. */
  readonly non2xx: number;
  readonly errors: number;
}

export interface LoadOptions {
  readonly headers?: Record<string, string>;
  /** Requests in flight at once (one per connection). */
  readonly connections: number;
  /** How long the measured load runs. */
  readonly seconds: number;
  /** Seconds of the same load first, not measured: the server's JIT and caches warm up on it. */
  readonly warmupSeconds: number;
}

/** The value at quantile `p` of an ascending list (0 for an empty one). */
export const percentile = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
const round2 = (x: number) => Math.round(x * 100) / 100;

/**
 * `duration` seconds of load, with every response's latency exact (autocannon's own histogram
 * rounds to whole milliseconds). By duration, not by a count of requests: autocannon's `amount`
 * mode sent half as many per second to the same server.
 */
function run(url: string, options: LoadOptions, duration: number) {
  return new Promise<{ result: autocannon.Result; latencies: number[]; seconds: number }>(
    (resolve, reject) => {
      const latencies: number[] = [];
      const started = performance.now();
      const instance = autocannon(
        { url, headers: options.headers, connections: options.connections, duration, timeout: 30 },
        (error: unknown, result) => {
          if (error) reject(error);
          else resolve({ result, latencies, seconds: (performance.now() - started) / 1000 });
        },
      );
      // autocannon emits (client, status, bytes, milliseconds); its types leave out the client.
      instance.on("response", (...args: unknown[]) => latencies.push(Number(args.at(-1))));
    },
  );
}

/** GETs of `url` for `options.seconds` after a warm-up: throughput and latency percentiles. */
export async function loadGets(url: string, options: LoadOptions): Promise<LoadResult> {
  if (options.warmupSeconds > 0) await run(url, options, options.warmupSeconds);
  const { result, latencies, seconds } = await run(url, options, options.seconds);
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    requestsPerSecond: Math.round(latencies.length / seconds),
    p50Ms: round2(percentile(latencies, 0.5)),
    p90Ms: round2(percentile(latencies, 0.9)),
    p99Ms: round2(percentile(latencies, 0.99)),
    maxMs: round2(latencies.at(-1) ?? 0),
    non2xx: result.non2xx,
    errors: result.errors,
  };
}
