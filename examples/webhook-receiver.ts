/**
 * A webhook receiver for autoprog, verified with the `standardwebhooks` package (an independent
 * implementation of the spec the server signs with).
 *
 *   WEBHOOK_SECRET=whsec_… PORT=9000 npx tsx examples/webhook-receiver.ts
 *   curl -X POST localhost:8787/v1/webhooks -H 'content-type: application/json' \
 *     -d '{"url":"http://127.0.0.1:9000/","events":["run.stage.grown","run.succeeded"]}'
 *
 * (A loopback URL needs the server started with AUTOPROG_WEBHOOK_ALLOW_PRIVATE=true.) It prints
 * one line per message and answers 204; a bad signature gets 400 and is never acted on. Messages
 * are acknowledged once per `webhook-id`: retries and redeliveries of one message share the id.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import { pathToFileURL } from "node:url";
import { Webhook } from "standardwebhooks";

export interface ReceivedMessage {
  readonly id: string;
  readonly type: string;
  readonly timestamp: string;
  readonly data: Record<string, unknown>;
  /** True when this `webhook-id` was seen before (a retry whose answer got lost, or a redelivery). */
  readonly duplicate: boolean;
}

export interface ReceiverOptions {
  /** The endpoint's secret; a function lets it change (rotation) while the receiver runs. */
  readonly secret: string | (() => string);
  readonly onMessage: (message: ReceivedMessage) => void;
  /** Called with every request that failed verification. */
  readonly onRejected?: (reason: string) => void;
}

export function createReceiver(options: ReceiverOptions): Server {
  const seen = new Set<string>();
  return createServer(async (request, response) => {
    const body = await readBody(request);
    const secret = typeof options.secret === "function" ? options.secret() : options.secret;
    let payload: { type: string; timestamp: string; data: Record<string, unknown> };
    try {
      const headers = Object.fromEntries(
        ["webhook-id", "webhook-timestamp", "webhook-signature"].map((name) => [
          name,
          String(request.headers[name] ?? ""),
        ]),
      );
      // Checks the signature over the exact bytes and that the timestamp is within 5 minutes.
      payload = new Webhook(secret).verify(body, headers) as typeof payload;
    } catch (error) {
      options.onRejected?.(String(error));
      response.writeHead(400).end();
      return;
    }
    const id = String(request.headers["webhook-id"]);
    options.onMessage({ id, ...payload, duplicate: seen.has(id) });
    seen.add(id);
    response.writeHead(204).end();
  });
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const secret = process.env.WEBHOOK_SECRET;
  if (!secret) {
    console.error("set WEBHOOK_SECRET to the secret POST /v1/webhooks answered with");
    process.exit(1);
  }
  const port = Number(process.env.PORT ?? 9000);
  createReceiver({
    secret,
    onMessage: (m) =>
      console.log(`${m.timestamp} ${m.type}${m.duplicate ? " (again)" : ""} ${JSON.stringify(m.data)}`),
    onRejected: (reason) => console.error(`rejected: ${reason}`),
  }).listen(port, "127.0.0.1", () => console.log(`listening on http://127.0.0.1:${port}/`));
}
