import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { followEvents } from "../../support/server-process.ts";

/** A finished run's whole replay, as the server sends it: five events and `end`, in one write. */
const REPLAY = `${[1, 2, 3, 4, 5].map((seq) => `id: ${seq}\nevent: epoch.completed\ndata: {}\n\n`).join("")}event: end\ndata: {}\n\n`;

let server: Server;
let url: string;
beforeAll(async () => {
  server = createServer((_request, response) => {
    response.writeHead(200, { "content-type": "text/event-stream" });
    response.end(REPLAY);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

describe("followEvents, the e2e tests' SSE client", () => {
  it("drops at the message `stop` asks for, even when the rest came in the same chunk", async () => {
    const first = await followEvents(url, { stop: (messages) => messages.length === 3 });
    expect(first.messages.map((m) => m.id)).toEqual(["1", "2", "3"]);
    expect(first.ended).toBe(false);
  });

  it("reads to `end` without a stop", async () => {
    const all = await followEvents(url);
    expect(all.messages).toHaveLength(6);
    expect(all.ended).toBe(true);
  });
});
