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

/** The parts of a `net.Socket` used here. */
interface SocketLike {
  write(chunk: Uint8Array): boolean;
  cork(): void;
  uncork(): void;
  readonly destroyed: boolean;
  readonly writableLength: number;
  once(event: "drain", listener: () => void): unknown;
}

/** What @hono/node-server puts at `c.env.outgoing`: the parts of `http.ServerResponse` used here. */
interface NodeResponseLike {
  readonly socket: SocketLike | null;
  /** True once headers saying `Transfer-Encoding: chunked` went out (HTTP/1.1 without a length). */
  readonly chunkedEncoding?: boolean;
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
 * A frame as one HTTP/1.1 chunk (`size CRLF bytes CRLF`), computed once per frame however many
 * sockets it goes to (the hub hands every subscriber the same frame).
 */
const chunks = new WeakMap<Uint8Array, Uint8Array>();
function httpChunkOf(frame: Uint8Array): Uint8Array {
  let chunk = chunks.get(frame);
  if (!chunk) {
    const head = encoder.encode(`${frame.byteLength.toString(16)}\r\n`);
    chunk = new Uint8Array(head.byteLength + frame.byteLength + 2);
    chunk.set(head, 0);
    chunk.set(frame, head.byteLength);
    chunk.set([13, 10], head.byteLength + frame.byteLength);
    chunks.set(frame, chunk);
  }
  return chunk;
}

/**
 * The sockets written to in this turn, corked until the turn's synchronous work is done: a sink
 * batch publishes several events in one go, and a socket that gets several frames then sends
 * them in one writev instead of one syscall each (with thousands of subscribers the syscalls are
 * the fan-out's cost). One microtask per turn for every socket, no allocation per write.
 */
let corkedThisTurn: (() => void)[] = [];
const uncorkTurn = () => {
  const release = corkedThisTurn;
  corkedThisTurn = [];
  for (const uncork of release) uncork();
};

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
  // HTTP/1.1 with chunked encoding (what a stream without a length gets): each frame goes to the
  // socket as one chunk encoded once for every subscriber, one write per subscriber and no
  // per-response copy or cork. Elsewhere (HTTP/2, no socket) the response encodes it.
  const socket = outgoing.chunkedEncoding === true ? outgoing.socket : null;
  const sink: { write(chunk: Uint8Array): boolean; readonly writableLength: number } = socket ?? outgoing;
  let corked = false;
  const uncork = () => {
    corked = false;
    socket?.uncork();
  };
  const output: EventStreamOutput = {
    write(frame) {
      // A socket destroyed before its "close" event has run takes no more writes.
      if (closed || outgoing.destroyed || socket?.destroyed) return;
      if (!socket) {
        if (!outgoing.write(frame)) blocked = true;
        return;
      }
      if (!corked) {
        corked = true;
        socket.cork();
        if (corkedThisTurn.push(uncork) === 1) queueMicrotask(uncorkTurn);
      }
      if (!socket.write(httpChunkOf(frame))) blocked = true;
    },
    get bufferedBytes() {
      return sink.writableLength;
    },
    drained: () => {
      if (closed) return Promise.resolve();
      // Not blocked: what is buffered is the writes of this turn, sent when it ends.
      if (!blocked) return new Promise<void>((resolve) => setTimeout(resolve, 0));
      return new Promise<void>((resolve) => {
        (socket ?? outgoing).once("drain", () => {
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
