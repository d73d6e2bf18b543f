import { type AddressInfo, connect } from "node:net";
import { Readable } from "node:stream";
import type { ServerType } from "@hono/node-server";
import { Client } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { type ListenOptions, listen } from "../../src/http-listener.ts";
import { MEMBER_KEY, type TestApp, testApp, tinySpec } from "./helpers.ts";

/**
 * Issue 23 item 3: an answer given before the request body is read (413, 415, 401, 404) must not
 * break a kept-alive connection. A real server (src/http-listener.ts, as `npm start` serves) and
 * one undici connection: each early answer arrives whole, then a normal request goes on the same
 * socket, or, past the drain bound, on a fresh one without an error.
 */
let t: TestApp;
let server: ServerType;
let client: Client;
let connections = 0;

async function start(bounds: Partial<ListenOptions> = {}) {
  t = testApp();
  server = await listen({ fetch: t.raw.fetch, hostname: "127.0.0.1", port: 0, ...bounds });
  const { port } = server.address() as AddressInfo;
  client = new Client(`http://127.0.0.1:${port}`, { pipelining: 1 });
  connections = 0;
  client.on("connect", () => connections++);
}

afterEach(async () => {
  await client.close();
  await new Promise((resolve) => server.close(resolve));
  t.close();
});

const JSON_TYPE = { "content-type": "application/json", authorization: `Bearer ${MEMBER_KEY}` };
const megabytes = (n: number) => Buffer.alloc(n * 1024 * 1024, "x");
/** A body sent without a length (Transfer-Encoding: chunked). */
function chunked(body: Buffer, size = 64 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let at = 0; at < body.length; at += size) yield body.subarray(at, at + size);
    })(),
  );
}

/** Sends a request; returns its status, `Connection` header and parsed body. */
async function send(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer | Readable,
) {
  const response = await client.request({ method, path, headers, body });
  const text = await response.body.text();
  return { status: response.statusCode, connection: response.headers.connection, body: JSON.parse(text) };
}

/** The normal request that follows each early answer. */
async function followUp() {
  const response = await send("GET", "/v1/experiments", { authorization: `Bearer ${MEMBER_KEY}` });
  expect(response).toMatchObject({ status: 200, body: { items: [] } });
}

describe.each([
  {
    case: "an oversize body (Content-Length)",
    request: () => ["POST", "/v1/experiments", JSON_TYPE, megabytes(2)] as const,
    status: 413,
    code: "payload_too_large",
  },
  {
    case: "an oversize chunked body",
    request: () => ["POST", "/v1/experiments", JSON_TYPE, chunked(megabytes(2))] as const,
    status: 413,
    code: "payload_too_large",
  },
  {
    case: "a wrong content type",
    request: () =>
      ["POST", "/v1/experiments", { ...JSON_TYPE, "content-type": "text/plain" }, megabytes(0.5)] as const,
    status: 415,
    code: "unsupported_media_type",
  },
  {
    case: "an unknown route with a body",
    request: () =>
      ["POST", "/v1/nothing-here", JSON_TYPE, Buffer.from(JSON.stringify(tinySpec()).repeat(2000))] as const,
    status: 404,
    code: "not_found",
  },
  {
    case: "an unknown public route with a body",
    request: () => ["PUT", "/nothing-here", JSON_TYPE, megabytes(0.5)] as const,
    status: 404,
    code: "not_found",
  },
  {
    case: "a wrong key with a body",
    request: () =>
      [
        "POST",
        "/v1/experiments",
        { ...JSON_TYPE, authorization: "Bearer ap_wrong" },
        megabytes(0.9),
      ] as const,
    status: 401,
    code: "unauthenticated",
  },
])("$case", ({ request, status, code }) => {
  it("is answered with its problem, and the next request uses the same connection", async () => {
    await start();
    for (let round = 0; round < 3; round++) {
      const [method, path, headers, body] = request();
      const answer = await send(method, path, headers, body);
      expect(answer).toMatchObject({ status, connection: "keep-alive", body: { status, code } });
      await followUp();
    }
    expect(connections).toBe(1);
  });
});

describe("a body past the drain bound", () => {
  it.each([
    ["Content-Length", () => megabytes(3)],
    ["chunked", () => chunked(megabytes(3))],
  ])(
    "(%s) is answered whole with Connection: close; the next request opens a new connection",
    async (_, body) => {
      await start({ maxDrainBytes: 256 * 1024 });
      const answer = await send("POST", "/v1/experiments", JSON_TYPE, body());
      expect(answer).toMatchObject({ status: 413, body: { status: 413, code: "payload_too_large" } });
      await followUp();
      await followUp();
      expect(connections).toBe(2);
    },
  );
});

/**
 * A raw client that keeps sending a body the server no longer reads: how the connection ends,
 * and whether the answer arrived first.
 */
function postWithoutListening(port: number, bytes: number): Promise<{ end: string; answer: string }> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let answer = "";
    socket.on("connect", () => {
      socket.write(
        `POST /v1/experiments HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n` +
          `authorization: Bearer ${MEMBER_KEY}\r\ncontent-length: ${bytes}\r\n\r\n`,
      );
      let sent = 0;
      const pump = () => {
        for (; sent < bytes; sent += 64 * 1024) {
          if (!socket.write(Buffer.alloc(64 * 1024, "x"))) return void socket.once("drain", pump);
        }
      };
      pump();
    });
    socket.on("data", (chunk) => {
      answer += chunk.toString();
    });
    socket.on("error", (error: NodeJS.ErrnoException) => resolve({ end: error.code ?? "error", answer }));
    socket.on("close", () => resolve({ end: "close", answer }));
  });
}

describe("a client that keeps sending past the drain bound", () => {
  it("reads the whole answer, then a clean close (no reset, no broken pipe)", async () => {
    await start({ maxDrainBytes: 64 * 1024 });
    const { port } = server.address() as AddressInfo;
    for (let i = 0; i < 5; i++) {
      const { end, answer } = await postWithoutListening(port, 8 * 1024 * 1024);
      expect(end).toBe("close");
      expect(answer).toMatch(
        /^HTTP\/1\.1 413 .*\r\n[\s\S]*connection: close\r\n[\s\S]*"code":"payload_too_large"/i,
      );
    }
  });
});
