/**
 * Where a run's event stream writes its bytes. Two implementations behind one small interface:
 * the Node response itself (frames go straight to the socket, no web stream per subscriber, which
 * is what lets one process feed thousands of watchers), and a web `ReadableStream` everywhere else
 * (Workers, `app.request` in tests). Nothing here imports a Node module: the Node response is
 * recognised by its shape.
 */

export interface EventStreamOutput {
  /** Queues the bytes for the client; never blocks and never throws (a closed output drops them). */
  write(chunk: Uint8Array): void;
  /** Bytes written but not yet taken by the client (the socket's or the stream's queue). */
  readonly bufferedBytes: number;
  /** Resolves once the queue has been taken (or the output closed). */
  drained(): Promise<void>;
  readonly closed: boolean;
  /** Called once when the client goes away or `end` is called. */
  onClose(listener: () => void): void;
  end(): void;
}

const encoder = new TextEncoder();
export const encodeText = (text: string): Uint8Array => encoder.encode(text);

/** One SSE message for a stored event (`payload` is JSON on one line, as stored). */
export const eventFrame = (seq: number, type: string, payload: string): Uint8Array =>
  encoder.encode(`event: ${type}\ndata: ${payload}\nid: ${seq}\n\n`);

export const SSE_HEADERS = {
  "Content-Type": "text/event-stream",
  "Cache-Control": "no-cache",
  Connection: "keep-alive",
  "X-Content-Type-Options": "nosniff",
} as const;

/** What @hono/node-server puts at `c.env.outgoing`: the parts of `http.ServerResponse` used here. */
interface NodeResponseLike {
  writeHead(status: number, headers: Record<string, string>): unknown;
  flushHeaders(): void;
  write(chunk: Uint8Array): boolean;
  end(): unknown;
  readonly writableLength: number;
  readonly destroyed: boolean;
  once(event: "drain" | "close", listener: () => void): unknown;
}

function isNodeResponse(value: unknown): value is NodeResponseLike {
  const candidate = value as Partial<NodeResponseLike> | null;
  return (
    typeof candidate?.writeHead === "function" &&
    typeof candidate.flushHeaders === "function" &&
    typeof candidate.write === "function" &&
    typeof candidate.once === "function" &&
    typeof candidate.writableLength === "number"
  );
}

/**
 * What @hono/node-server takes as "the handler has answered on the socket itself" (its
 * `RESPONSE_ALREADY_SENT`, rebuilt here so this file stays free of Node imports).
 */
const alreadySent = () => new Response(null, { headers: { "x-hono-already-sent": "true" } });

/**
 * The Node response under `env` (Hono's `c.env` on @hono/node-server), started as a 200 event
 * stream; null on any other runtime.
 */
export function socketOutput(
  env: unknown,
  headers: Record<string, string>,
): { output: EventStreamOutput; response: Response } | null {
  const outgoing = (env as { outgoing?: unknown } | undefined)?.outgoing;
  if (!isNodeResponse(outgoing)) return null;
  outgoing.writeHead(200, { ...SSE_HEADERS, ...headers });
  // The client learns the stream is open now, not at the first event or heartbeat.
  outgoing.flushHeaders();
  let closed = false;
  // A write that found the response's buffer full: only then does the response emit "drain".
  let blocked = false;
  const listeners: (() => void)[] = [];
  const close = () => {
    if (closed) return;
    closed = true;
    for (const listener of listeners.splice(0)) listener();
  };
  outgoing.once("close", close);
  const output: EventStreamOutput = {
    write(chunk) {
      if (!closed && !outgoing.destroyed && !outgoing.write(chunk)) blocked = true;
    },
    get bufferedBytes() {
      return outgoing.writableLength;
    },
    drained: () => {
      if (closed) return Promise.resolve();
      // Not blocked: what is buffered is the writes of this turn, sent when it ends.
      if (!blocked) return new Promise<void>((resolve) => setTimeout(resolve, 0));
      return new Promise<void>((resolve) => {
        outgoing.once("drain", () => {
          blocked = false;
          resolve();
        });
        listeners.push(resolve);
      });
    },
    get closed() {
      return closed;
    },
    onClose(listener) {
      if (closed) listener();
      else listeners.push(listener);
    },
    end() {
      if (!closed) outgoing.end();
      close();
    },
  };
  return { output, response: alreadySent() };
}

/** A web stream the response carries; its queue (in bytes) is what the client has not read yet. */
export function webStreamOutput(headers: Record<string, string>): {
  output: EventStreamOutput;
  response: Response;
} {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  const listeners: (() => void)[] = [];
  // The queue's size in bytes: the stream counts it (desiredSize is the high-water mark, 0, less it).
  const queued = () => (closed ? 0 : -(controller.desiredSize ?? 0));
  let waiting: (() => void)[] = [];
  const close = () => {
    if (closed) return;
    closed = true;
    for (const resolve of waiting.splice(0)) resolve();
    for (const listener of listeners.splice(0)) listener();
  };
  const body = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
      },
      pull() {
        // Asked for more: everything queued has been read.
        const resolved = waiting;
        waiting = [];
        for (const resolve of resolved) resolve();
      },
      cancel: close,
    },
    { highWaterMark: 0, size: (chunk) => chunk.byteLength },
  );
  const output: EventStreamOutput = {
    write(chunk) {
      if (!closed) controller.enqueue(chunk);
    },
    get bufferedBytes() {
      return queued();
    },
    drained: () =>
      closed || queued() === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiting.push(resolve)),
    get closed() {
      return closed;
    },
    onClose(listener) {
      if (closed) listener();
      else listeners.push(listener);
    },
    end() {
      if (!closed) controller.close();
      close();
    },
  };
  return { output, response: new Response(body, { status: 200, headers: { ...SSE_HEADERS, ...headers } }) };
}
