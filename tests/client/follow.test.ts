import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  ApiError,
  createAutoprogClient,
  EventStreamError,
  type FollowedEvent,
  followRunEvents,
} from "../../src/client/index.ts";
import type { TrainingEvent } from "../../src/core/events.ts";
import {
  epochCompleted,
  runCompleted,
  runStarted,
  searchCompleted,
  searchStarted,
  stageGrown,
  stageStarted,
} from "../../support/fixtures.ts";

/** A run's log as the server stores it: seq i + 1 is EVENTS[i]. */
const EVENTS: TrainingEvent[] = [
  runStarted(0, 4),
  stageStarted(0, 1, 14, 0),
  epochCompleted(0),
  epochCompleted(1),
  searchStarted(1),
  searchCompleted(1),
  stageGrown(1),
  stageStarted(1, 2, 28, 2),
  epochCompleted(2),
  epochCompleted(3),
  runCompleted(),
];

/** The exact SSE bytes of one stored event (written here, not by the code under test). */
const frame = (seq: number) => {
  const event = EVENTS[seq - 1] as TrainingEvent;
  return `id: ${seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
};

interface Request {
  readonly lastEventId: string | undefined;
  readonly authorization: string | undefined;
}

/** A test server whose n-th connection (from 0) is answered by `script[n]`. */
async function sseServer(script: ((res: ServerResponse, after: number) => void)[]) {
  const requests: Request[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const lastEventId = req.headers["last-event-id"] as string | undefined;
    requests.push({ lastEventId, authorization: req.headers.authorization });
    const handler = script[requests.length - 1];
    if (!handler) {
      res.writeHead(500).end();
      return;
    }
    handler(res, Number(lastEventId ?? 0));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  servers.push(server);
  return { url, requests };
}
const servers: ReturnType<typeof createServer>[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

const openStream = (res: ServerResponse) => res.writeHead(200, { "content-type": "text/event-stream" });
/** Sends seqs from..to, one write each. */
const send = (res: ServerResponse, from: number, to: number) => {
  for (let seq = from; seq <= to; seq++) res.write(frame(seq));
};
const problem = (res: ServerResponse, status: number, title: string, detail: string) =>
  res.writeHead(status, { "content-type": "application/problem+json" }).end(
    JSON.stringify({
      type: "about:blank",
      title,
      status,
      detail,
      instance: "/",
      code: "x",
      requestId: "r",
    }),
  );

async function collect(iterable: AsyncIterable<FollowedEvent>): Promise<FollowedEvent[]> {
  const out: FollowedEvent[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

const fast = { initialMs: 5, maxMs: 20 };

describe("followRunEvents", () => {
  it("resumes after drops, errors and overlapping replays with each event exactly once, in order", async () => {
    const { url, requests } = await sseServer([
      // 1: three events, then the connection breaks off mid-stream.
      (res) => {
        openStream(res);
        send(res, 1, 3);
        setTimeout(() => res.socket?.destroy(), 20);
      },
      // 2: the server is briefly unavailable.
      (res) => problem(res, 503, "Service Unavailable", "restarting"),
      // 3: a replay that starts too early (seq 2, 3 again), then a clean close without `end`.
      (res, after) => {
        openStream(res);
        send(res, after - 1, 6);
        res.end();
      },
      // 4: the rest, then `end`.
      (res, after) => {
        openStream(res);
        send(res, after + 1, EVENTS.length);
        res.write(`event: end\ndata: {"state":"completed","lastSeq":${EVENTS.length}}\n\n`);
        res.end();
      },
    ]);
    const reconnects: { attempt: number; after: number }[] = [];
    const client = createAutoprogClient({ api: url, key: "ap_test" });
    const followed = await collect(
      followRunEvents(client, "run_1", {
        backoff: fast,
        onReconnect: ({ attempt, after }) => reconnects.push({ attempt, after }),
      }),
    );

    expect(followed.map((f) => f.seq)).toEqual(EVENTS.map((_, i) => i + 1));
    expect(followed.map((f) => f.event)).toEqual(EVENTS);
    expect(requests.map((r) => r.lastEventId)).toEqual([undefined, "3", "3", "6"]);
    expect(requests.every((r) => r.authorization === "Bearer ap_test")).toBe(true);
    // Backoff grows over consecutive failures and resets once events arrive again.
    expect(reconnects).toEqual([
      { attempt: 1, after: 3 },
      { attempt: 2, after: 3 },
      { attempt: 1, after: 6 },
    ]);
  });

  it("starts after `after` and ends at the terminal event without waiting for `end`", async () => {
    const { url, requests } = await sseServer([
      (res, after) => {
        openStream(res);
        send(res, after + 1, EVENTS.length); // the connection stays open
      },
    ]);
    const followed = await collect(
      followRunEvents(createAutoprogClient({ api: url }), "run_1", { after: 8 }),
    );
    expect(followed.map((f) => f.seq)).toEqual([9, 10, 11]);
    expect(followed.at(-1)?.event.type).toBe("run.completed");
    expect(requests).toEqual([{ lastEventId: "8", authorization: undefined }]);
  });

  it("reconnects when a connection goes silent (half-open) past the idle timeout", async () => {
    const { url, requests } = await sseServer([
      (res) => {
        openStream(res);
        send(res, 1, 2); // then nothing, not even a heartbeat
      },
      (res, after) => {
        openStream(res);
        send(res, after + 1, EVENTS.length);
      },
    ]);
    const followed = await collect(
      followRunEvents(createAutoprogClient({ api: url }), "run_1", { idleTimeoutMs: 300, backoff: fast }),
    );
    expect(followed.map((f) => f.seq)).toEqual(EVENTS.map((_, i) => i + 1));
    expect(requests.map((r) => r.lastEventId)).toEqual([undefined, "2"]);
  });

  it("throws the server's problem at once for a 404 (no retry)", async () => {
    const { url, requests } = await sseServer([(res) => problem(res, 404, "Not Found", "no run run_x")]);
    const error = await collect(
      followRunEvents(createAutoprogClient({ api: url }), "run_x", { backoff: fast }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(404);
    expect((error as ApiError).message).toBe("Not Found: no run run_x");
    expect(requests).toHaveLength(1);
  });

  it("rejects an event that is not a TrainingEvent instead of yielding it", async () => {
    const { url } = await sseServer([
      (res) => {
        openStream(res);
        send(res, 1, 1);
        res.write(`id: 2\nevent: epoch.completed\ndata: {"type":"epoch.completed","epoch":-1}\n\n`);
      },
    ]);
    const seen: number[] = [];
    const error = await (async () => {
      for await (const f of followRunEvents(createAutoprogClient({ api: url }), "run_1")) seen.push(f.seq);
    })().catch((e: unknown) => e);
    expect(seen).toEqual([1]);
    expect(error).toBeInstanceOf(EventStreamError);
    expect((error as Error).message).toContain("event 2 (epoch.completed) is not a TrainingEvent");
  });

  it("gives up after maxAttempts consecutive failures with the last error, naming the URL", async () => {
    // Nothing listens on this port once the probe server is closed.
    const { url } = await sseServer([]);
    for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
    const error = await collect(
      followRunEvents(createAutoprogClient({ api: url }), "run_1", { backoff: { ...fast, maxAttempts: 2 } }),
    ).catch((e: unknown) => e);
    expect((error as Error).message).toBe(`cannot reach the autoprog API at ${url}: connection refused`);
  });

  it("stops quietly when its signal is aborted", async () => {
    const { url } = await sseServer([
      (res) => {
        openStream(res);
        send(res, 1, 2);
      },
    ]);
    const controller = new AbortController();
    const seen: number[] = [];
    for await (const f of followRunEvents(createAutoprogClient({ api: url }), "run_1", {
      signal: controller.signal,
    })) {
      seen.push(f.seq);
      if (f.seq === 2) setTimeout(() => controller.abort(), 10);
    }
    expect(seen).toEqual([1, 2]);
  });
});
