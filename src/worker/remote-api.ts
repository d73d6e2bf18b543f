import { ApiError, asProblem, isTransient } from "../client/client.ts";
import type { AutoprogClient, components } from "../client/index.ts";
import type { TrainingEvent } from "../core/events.ts";
import { type RetryPolicy, retry } from "../kit/backoff.ts";

export type WorkerLease = components["schemas"]["WorkerLease"];
export type EventBatchResult = components["schemas"]["EventBatchResult"];
export type Action = EventBatchResult["action"];
type EventBatch = components["schemas"]["EventBatch"];

export interface OutgoingEvent {
  readonly seq: number;
  readonly event: TrainingEvent;
  readonly replayKey: string | null;
}

/** The API says this worker's lease on the run is gone (409 `lease_lost`): stop training it. */
export class LeaseLostError extends Error {
  override readonly name = "LeaseLostError";
}

const LEASE_TOKEN_HEADER = "autoprog-lease-token";

/**
 * About a minute of trying: an API restart or a short network outage is ridden out. Full
 * jitter: workers that lost the API at the same moment do not come back in step.
 */
export const DEFAULT_RETRY: RetryPolicy = { tries: 8, firstMs: 250, maxMs: 15_000, jitter: "full" };

const withRetries = <T>(attempt: () => Promise<T>, policy: RetryPolicy): Promise<T> =>
  retry(attempt, policy, isTransient);

/** The data of a result; a `lease_lost` problem becomes LeaseLostError, any other error an ApiError. */
function dataOf<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.response.ok) return result.data as T;
  const problem = asProblem(result.error);
  if (problem?.code === "lease_lost") throw new LeaseLostError(problem.detail ?? problem.title);
  throw new ApiError(result.response.status, problem);
}

/**
 * The pull-worker protocol through the generated SDK client, each call retried on network
 * errors and 5xx (every call is safe to repeat: events carry replay keys, a checkpoint upload
 * replaces the same epoch's).
 */
export class WorkerApi {
  constructor(
    private readonly client: AutoprogClient,
    private readonly retry: RetryPolicy = DEFAULT_RETRY,
  ) {}

  /** A leased run, or null when none was queued within `waitSeconds`. */
  async lease(worker: string, waitSeconds: number): Promise<WorkerLease | null> {
    const result = await withRetries(
      async () =>
        dataOf(await this.client.POST("/v1/workers/lease", { body: { worker, wait: waitSeconds } })),
      this.retry,
    );
    return result ?? null;
  }

  async heartbeat(runId: string, token: string): Promise<Action> {
    const result = await withRetries(
      async () => dataOf(await this.client.POST("/v1/workers/heartbeat", { body: { runId, token } })),
      this.retry,
    );
    return result.action;
  }

  async postEvents(
    runId: string,
    token: string,
    events: readonly OutgoingEvent[],
  ): Promise<EventBatchResult> {
    return withRetries(
      async () =>
        dataOf(
          await this.client.POST("/v1/runs/{id}/events", {
            params: { path: { id: runId } },
            // The same events as JSON; the SDK's type differs only in readonly arrays.
            body: { token, events: events as unknown as EventBatch["events"] },
          }),
        ),
      this.retry,
    );
  }

  async putCheckpoint(runId: string, epoch: number, token: string, body: Uint8Array): Promise<void> {
    await withRetries(
      async () =>
        dataOf(
          await this.client.PUT("/v1/runs/{id}/checkpoints/{epoch}", {
            params: { path: { id: runId, epoch: String(epoch) }, header: { [LEASE_TOKEN_HEADER]: token } },
            // The document types a binary body as a string; it goes out as the bytes themselves.
            body: body as unknown as string,
            bodySerializer: (bytes: string) => bytes,
            headers: { "content-type": "application/octet-stream" },
          }),
        ),
      this.retry,
    );
  }

  async getCheckpoint(runId: string, epoch: number, token: string): Promise<Uint8Array> {
    const buffer = await withRetries(
      async () =>
        dataOf(
          await this.client.GET("/v1/runs/{id}/checkpoints/{epoch}", {
            params: { path: { id: runId, epoch: String(epoch) }, header: { [LEASE_TOKEN_HEADER]: token } },
            parseAs: "arrayBuffer",
          }),
        ),
      this.retry,
    );
    return new Uint8Array(buffer);
  }

  /** Hands the run back without using an attempt; false when the lease was gone already. */
  async release(runId: string, token: string): Promise<boolean> {
    const result = await withRetries(
      async () => dataOf(await this.client.POST("/v1/workers/release", { body: { runId, token } })),
      this.retry,
    );
    return result.released;
  }
}
