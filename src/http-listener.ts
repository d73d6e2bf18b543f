import { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { type Http2Bindings, type HttpBindings, type ServerType, serve } from "@hono/node-server";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";

/**
 * The Node HTTP server of the API: @hono/node-server, with every answer leaving its connection
 * usable. An answer given before the request body was read (413, 415, 401, 404) used to break a
 * kept-alive connection: the app had opened the body as a web stream (Hono's body limit looks at
 * `request.body`), that stream paused the socket once its small buffer filled, node-server's own
 * drain could not resume it, and after 500 ms it destroyed a socket whose answer had said
 * `Connection: keep-alive`, so the client's next request on it failed (`UND_ERR_SOCKET`).
 *
 * Here the unread rest of a body is discarded before the answer goes out, up to a bound of bytes
 * and time. Past the bound the answer says `Connection: close`, and the close lingers: the
 * server half-closes after the answer and keeps discarding what the client still sends, so the
 * client reads the whole answer instead of a reset.
 */
export interface ListenOptions {
  readonly fetch: (request: Request, env: HttpBindings | Http2Bindings) => Response | Promise<Response>;
  readonly hostname: string;
  readonly port: number;
  /** Unread body bytes discarded to keep the connection (default 8 MiB); past it, `Connection: close`. */
  readonly maxDrainBytes?: number;
  /** How long a body may take to finish arriving after the answer is ready (default 2 s). */
  readonly drainTimeoutMs?: number;
  /** How long a closing connection keeps discarding a body after its answer (default 2 s). */
  readonly lingerMs?: number;
}

const ALREADY_SENT_HEADER = "x-hono-already-sent";

export const DRAIN_DEFAULTS = {
  maxDrainBytes: 8 * 1024 * 1024,
  drainTimeoutMs: 2_000,
  lingerMs: 2_000,
} as const;

/** Starts listening; resolves with the server once it is bound. */
export function listen(options: ListenOptions): Promise<ServerType> {
  const bounds = { ...DRAIN_DEFAULTS, ...withoutUndefined(options) };
  const fetch = async (request: Request, env: HttpBindings | Http2Bindings): Promise<Response> => {
    const response = await options.fetch(request, env);
    // A handler that answered on the socket itself (an event stream, src/events/sse-output.ts)
    // says so with this header; node-server knows only its own constant's kind of response.
    if (response.headers.get(ALREADY_SENT_HEADER) === "true") return RESPONSE_ALREADY_SENT;
    // serve() makes an HTTP/1.1 server; HTTP/2 streams close on their own.
    if (!(env.incoming instanceof IncomingMessage)) return response;
    if (await discardBody(env.incoming, bounds)) return response;
    lingerOnClose(env.incoming.socket, bounds.lingerMs);
    const headers = new Headers(response.headers);
    headers.set("connection", "close");
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  };
  return new Promise((resolve) => {
    const server = serve(
      // This module owns the unread body; node-server's own clean-up would destroy the socket.
      { fetch, hostname: options.hostname, port: options.port, autoCleanupIncoming: false },
      () => resolve(server),
    );
  });
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Throws away what is left of the request body: true once it has all arrived (at once when
 * nothing is left), false when more than `maxDrainBytes` remain or it takes longer than
 * `drainTimeoutMs` (it keeps flowing into nothing either way).
 */
function discardBody(
  incoming: IncomingMessage,
  bounds: { maxDrainBytes: number; drainTimeoutMs: number },
): Promise<boolean> {
  if (incoming.readableEnded) return Promise.resolve(true);
  // A reader the app left behind (a web stream over the body) would pause the socket again.
  incoming.removeAllListeners("data");
  incoming.resume();
  if (incoming.complete) return Promise.resolve(true);
  const declared = Number(incoming.headers["content-length"]);
  if (Number.isFinite(declared) && declared > bounds.maxDrainBytes) return Promise.resolve(false);
  return new Promise((resolve) => {
    let discarded = 0;
    const settle = (drained: boolean) => {
      clearTimeout(timer);
      incoming.off("data", count);
      incoming.off("end", ended);
      incoming.off("close", ended);
      resolve(drained);
    };
    const count = (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > bounds.maxDrainBytes) settle(false);
    };
    const ended = () => settle(incoming.complete);
    const timer = setTimeout(() => settle(false), bounds.drainTimeoutMs);
    incoming.on("data", count);
    incoming.once("end", ended);
    incoming.once("close", ended);
  });
}

/**
 * Node closes a `Connection: close` answer's socket with `destroySoon` once the answer is
 * written; with request bytes still unread that close is a reset, which can reach the client
 * before it has read the answer. This socket half-closes instead and is destroyed when the
 * client closes its side, or after `lingerMs`.
 */
function lingerOnClose(socket: Socket, lingerMs: number): void {
  socket.destroySoon = function lingeringClose(this: Socket) {
    if (this.writable) this.end();
    const timer = setTimeout(() => this.destroy(), lingerMs);
    timer.unref();
    this.once("end", () => this.destroy());
    this.once("close", () => clearTimeout(timer));
  };
}
