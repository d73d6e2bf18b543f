import { mkdtemp } from "node:fs/promises";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { afterEach, describe, expect, it, vi } from "vitest";
import * as eventsLog from "../../db/events.ts";
import { loadSettings } from "../../src/env.ts";
import { startServer } from "../../src/node.ts";
import {
  epochCompleted,
  type FakeEvent,
  runCompleted,
  runFailed,
  runStarted,
} from "../../support/fixtures.ts";
import { ADMIN_KEY, claimForTest, type TestApp, testApp, tinySpec } from "./helpers.ts";

let t: TestApp;
let closeApp: (() => void) | null = null;
afterEach(() => {
  closeApp?.();
  closeApp = null;
});

async function runningRun(options: { heartbeatMs?: number; sseBufferBytes?: number } = {}) {
  t = testApp(options);
  closeApp = t.close;
  const response = await t.post("/v1/experiments", tinySpec());
  expect(response.status).toBe(201);
  const run = await claimForTest(t.db);
  if (!run) throw new Error("no run");
  const record = (event: FakeEvent) => t.sink.record(run.id, run.attempt, event, null);
  return { id: run.id, record };
}

/** Reads the SSE body chunk by chunk, parsing with an independent implementation. */
function follow(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const messages: EventSourceMessage[] = [];
  let text = "";
  const parser = createParser({ onEvent: (message) => messages.push(message) });
  return {
    messages,
    text: () => text,
    /** Reads until `done(messages)` holds or the stream ends. */
    async until(done: (messages: EventSourceMessage[], text: string) => boolean): Promise<boolean> {
      while (!done(messages, text)) {
        const chunk = await reader.read();
        if (chunk.done) return false;
        const piece = decoder.decode(chunk.value, { stream: true });
        text += piece;
        parser.feed(piece);
      }
      return true;
    },
    cancel: () => reader.cancel(),
  };
}

describe("GET /v1/runs/{id}/events", () => {
  it("replays a finished run as exact SSE frames, then `end`", async () => {
    const { id, record } = await runningRun();
    const events = [runStarted(), epochCompleted(0), runCompleted()];
    for (const event of events) await record(event);
    const response = await t.app.request(`/v1/runs/${id}/events`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    const frames = events.map((e, i) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\nid: ${i + 1}\n\n`);
    expect(await response.text()).toBe(
      `${frames.join("")}event: end\ndata: {"state":"completed","lastSeq":3}\n\n`,
    );
  });

  it("starts after Last-Event-ID, or after ?since= without it", async () => {
    const { id, record } = await runningRun();
    for (const event of [runStarted(), epochCompleted(0), epochCompleted(1), runCompleted()])
      await record(event);
    const ids = async (init: RequestInit, query = "") => {
      const stream = follow(
        (await t.app.request(`/v1/runs/${id}/events${query}`, init)).body as ReadableStream,
      );
      await stream.until(() => false);
      return stream.messages.map((m) => m.id ?? m.event);
    };
    expect(await ids({ headers: { "last-event-id": "2" } })).toEqual(["3", "4", "end"]);
    expect(await ids({}, "?since=3")).toEqual(["4", "end"]);
    expect(await ids({ headers: { "last-event-id": "1" } }, "?since=3")).toEqual(["2", "3", "4", "end"]);
  });

  it("follows a live run, then ends when it finishes", async () => {
    const { id, record } = await runningRun();
    await record(runStarted());
    const stream = follow((await t.app.request(`/v1/runs/${id}/events`)).body as ReadableStream);
    await stream.until((m) => m.length === 1);
    expect(t.hub.subscribers(id)).toBe(1);
    await record(epochCompleted(0));
    await stream.until((m) => m.length === 2);
    expect(stream.messages[1]).toMatchObject({ id: "2", event: "epoch.completed" });
    await record(runCompleted());
    expect(await stream.until((m) => m.at(-1)?.event === "end")).toBe(true);
    expect(stream.messages.map((m) => m.id ?? m.event)).toEqual(["1", "2", "3", "end"]);
    expect(await stream.until(() => false)).toBe(false);
    expect(t.hub.subscribers(id)).toBe(0);
  });

  it("disconnects a client that leaves too much unread, with a reason; it resumes with Last-Event-ID, every event once", async () => {
    const { id, record } = await runningRun({ sseBufferBytes: 16 * 1024 });
    await record(runStarted());
    const stream = follow((await t.app.request(`/v1/runs/${id}/events`)).body as ReadableStream);
    await stream.until((m) => m.length === 1);
    // The client reads nothing while 600 events are stored: far more than 16 KiB.
    for (let epoch = 0; epoch < 600; epoch++) await record(epochCompleted(epoch));
    await record(runCompleted());
    // Everything written before the limit was passed, then the reason, then the end of the stream.
    expect(await stream.until(() => false)).toBe(false);
    expect(stream.text()).toMatch(
      /: overflow: the client left more than 16384 bytes unread; reconnect with Last-Event-ID\n\n$/,
    );
    expect(stream.messages.some((m) => m.event === "end")).toBe(false);
    const received = stream.messages.map((m) => Number(m.id));
    expect(received.length).toBeLessThan(602);
    expect(t.hub.subscribers(id)).toBe(0);
    const lastId = received.at(-1) as number;
    const resumed = follow(
      (await t.app.request(`/v1/runs/${id}/events`, { headers: { "last-event-id": String(lastId) } }))
        .body as ReadableStream,
    );
    expect(await resumed.until((m) => m.at(-1)?.event === "end")).toBe(true);
    const ids = [...received, ...resumed.messages.slice(0, -1).map((m) => Number(m.id))];
    expect(ids).toEqual(Array.from({ length: 602 }, (_, i) => i + 1));
  });

  it("writes one live event to every subscriber as the same bytes, reading the log for none of them", async () => {
    const { id, record } = await runningRun();
    await record(runStarted());
    const streams = await Promise.all(
      Array.from({ length: 20 }, async () =>
        follow((await t.app.request(`/v1/runs/${id}/events`)).body as ReadableStream),
      ),
    );
    for (const stream of streams) await stream.until((m) => m.length === 1);
    const frames: Uint8Array[] = [];
    t.hub.subscribe(id, (event) => frames.push(event.frame));
    const reads = vi.spyOn(eventsLog, "readEvents");
    await record(epochCompleted(0));
    for (const stream of streams) await stream.until((m) => m.length === 2);
    expect(reads).not.toHaveBeenCalled();
    reads.mockRestore();
    expect(frames).toHaveLength(1);
    expect(new TextDecoder().decode(frames[0])).toBe(
      `event: epoch.completed\ndata: ${JSON.stringify(epochCompleted(0))}\nid: 2\n\n`,
    );
    for (const stream of streams) expect(stream.messages[1]?.data).toBe(JSON.stringify(epochCompleted(0)));
    for (const stream of streams) await stream.cancel();
  });

  it("sends a comment heartbeat while idle and lets go of a client that leaves", async () => {
    const { id, record } = await runningRun({ heartbeatMs: 20 });
    await record(runStarted());
    const stream = follow((await t.app.request(`/v1/runs/${id}/events`)).body as ReadableStream);
    await stream.until((_, text) => text.includes(": heartbeat\n\n"));
    expect(stream.messages).toHaveLength(1);
    await stream.cancel();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(t.hub.subscribers(id)).toBe(0);
  });
});

describe("over a real socket", () => {
  it("lets go of a subscriber whose connection drops", async () => {
    const dir = await mkdtemp(join(tmpdir(), "autoprog-sse-"));
    const server = await startServer(
      loadSettings({
        AUTOPROG_DATA_DIR: dir,
        AUTOPROG_PORT: "0",
        AUTOPROG_CONCURRENCY: "0",
        AUTOPROG_SSE_HEARTBEAT_MS: "20",
        AUTOPROG_LOG: "silent",
        AUTOPROG_BOOTSTRAP_KEY: ADMIN_KEY,
      }),
    );
    const headers = { authorization: `Bearer ${ADMIN_KEY}` };
    try {
      const created = await fetch(`${server.url}/v1/experiments`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(tinySpec()),
      });
      const { runs } = (await created.json()) as { runs: { id: string }[] };
      const runId = runs[0]?.id as string;
      const controllers = Array.from({ length: 5 }, () => new AbortController());
      const streams = await Promise.all(
        controllers.map((c) => fetch(`${server.url}/v1/runs/${runId}/events`, { headers, signal: c.signal })),
      );
      for (const response of streams) await response.body?.getReader().read();
      expect(server.hub.subscribers(runId)).toBe(5);
      for (const c of controllers) c.abort();
      // Polled, not slept: on a loaded machine the sockets close later than a fixed pause.
      for (let i = 0; i < 100 && server.hub.subscribers(runId) > 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(server.hub.subscribers(runId)).toBe(0);
    } finally {
      await server.close();
    }
  });

  it("answers with its headers at once, and disconnects a reader that stops reading, which then resumes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "autoprog-sse-"));
    const server = await startServer(
      loadSettings({
        AUTOPROG_DATA_DIR: dir,
        AUTOPROG_PORT: "0",
        AUTOPROG_CONCURRENCY: "0",
        // No heartbeat within the test: only the headers can answer the request.
        AUTOPROG_SSE_HEARTBEAT_MS: "600000",
        AUTOPROG_SSE_BUFFER_BYTES: "16384",
        AUTOPROG_LOG: "silent",
        AUTOPROG_BOOTSTRAP_KEY: ADMIN_KEY,
      }),
    );
    const headers = { authorization: `Bearer ${ADMIN_KEY}` };
    try {
      const created = await fetch(`${server.url}/v1/experiments`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(tinySpec()),
      });
      const runId = ((await created.json()) as { runs: { id: string }[] }).runs[0]?.id as string;
      const target = new URL(`${server.url}/v1/runs/${runId}/events`);
      const open = (after: number) =>
        new Promise<IncomingMessage>((resolve, reject) => {
          const req = httpRequest(
            {
              host: target.hostname,
              port: target.port,
              path: target.pathname,
              headers: { ...headers, "last-event-id": String(after) },
            },
            resolve,
          );
          req.on("error", reject);
          req.end();
        });
      const slow = await open(0);
      expect(slow.statusCode).toBe(200);
      expect(slow.headers["content-type"]).toBe("text/event-stream");
      slow.pause();
      // Batches of 500 until the client is let go: more than the socket's buffers and 16 KiB.
      const events: FakeEvent[] = [runStarted()];
      await server.sink.record(runId, 1, runStarted(), null);
      for (let batch = 0; batch < 40 && server.hub.subscribers(runId) > 0; batch++) {
        const more = Array.from({ length: 500 }, (_, i) => epochCompleted(batch * 500 + i));
        events.push(...more);
        await Promise.all(more.map((event) => server.sink.record(runId, 1, event, null)));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(server.hub.subscribers(runId)).toBe(0);
      // The run was never leased (still queued): cancelling it is what makes it terminal.
      events.push(runFailed("cancelled"));
      await server.sink.record(runId, 1, runFailed("cancelled"), null);
      const text = await readAll(slow);
      expect(text).toMatch(
        /: overflow: the client left more than 16384 bytes unread; reconnect with Last-Event-ID\n\n$/,
      );
      const first = idsOf(text);
      expect(first.length).toBeLessThan(events.length);
      const rest = await readAll(await open(first.at(-1) as number));
      expect(rest).toContain(`event: end\ndata: {"state":"cancelled","lastSeq":${events.length}}\n\n`);
      expect([...first, ...idsOf(rest)]).toEqual(Array.from({ length: events.length }, (_, i) => i + 1));
    } finally {
      await server.close();
    }
  });
});

const readAll = (response: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let text = "";
    response.setEncoding("utf8");
    response.on("data", (chunk: string) => {
      text += chunk;
    });
    response.on("close", () => resolve(text));
    response.resume();
  });

const idsOf = (text: string) => [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
