import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { Hono } from "hono";

/**
 * The floors under bench/api.ts's GET measurements, as a child process on a free port (its port
 * on stdout): `node`, a bare node:http server answering a constant; `hono`, a bare Hono app on
 * @hono/node-server answering /healthz's shape (no middleware, no database). What the service
 * spends above these is its own: guards, authentication, the database read, the JSON.
 */
const kind = process.argv[2];
const announce = (address: AddressInfo) => console.log(address.port);

if (kind === "node") {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"status":"ok"}');
  });
  server.listen(0, "127.0.0.1", () => announce(server.address() as AddressInfo));
} else if (kind === "hono") {
  const app = new Hono();
  app.get("/healthz", (c) => c.json({ status: "ok", time: new Date().toISOString() }));
  serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, announce);
} else {
  console.error("usage: bare-server.ts node|hono");
  process.exit(2);
}
