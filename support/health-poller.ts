/**
 * Polls a server's GET /healthz back to back (one request in flight, `gapMs` apart) while
 * something else happens, and keeps every answer's latency and every failure: the fault tests
 * (tests/e2e/trainer-faults.test.ts) and `bench/trainer-fault.ts` read it.
 */
export interface HealthRecord {
  /** The answers that were 200, in order: when each was sent (epoch ms) and how long it took (ms). */
  readonly answers: { at: number; ms: number }[];
  /** What went wrong with the others (a status, or a network error). */
  readonly failures: string[];
}

export function pollHealth(url: string, gapMs = 20): { stop: () => Promise<HealthRecord> } {
  const record: HealthRecord = { answers: [], failures: [] };
  let running = true;
  const loop = (async () => {
    while (running) {
      const began = performance.now();
      const at = Date.now();
      try {
        const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(10_000) });
        await response.arrayBuffer();
        if (response.status === 200) record.answers.push({ at, ms: performance.now() - began });
        else record.failures.push(`status ${response.status}`);
      } catch (error) {
        record.failures.push(String(error));
      }
      await new Promise((resolve) => setTimeout(resolve, gapMs));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return record;
    },
  };
}

/** The p-th quantile (0..1) of the values, nearest rank. */
export function quantile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? Number.NaN;
}
