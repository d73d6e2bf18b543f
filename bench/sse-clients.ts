import { createParser } from "eventsource-parser";

/**
 * The SSE side of `npm run bench:api`, in its own process so the subscribers do not share the
 * server's event loop: opens N streams to one run, reports when all are connected, and at the
 * end prints, for each seq, when the last subscriber received it.
 * Usage: tsx bench/sse-clients.ts <events url> <subscribers>
 */
const [url, countArg] = process.argv.slice(2);
const subscribers = Number(countArg);
if (!url || !(subscribers > 0)) throw new Error("usage: sse-clients.ts <url> <subscribers>");

const now = () => performance.timeOrigin + performance.now();
const lastArrival = new Map<number, number>();
let connected = 0;
let ended = 0;
let failed = 0;

async function subscribe(): Promise<void> {
  const response = await fetch(url as string, {
    headers: { accept: "text/event-stream", authorization: `Bearer ${process.env.AUTOPROG_KEY ?? ""}` },
  });
  if (!response.body) throw new Error(`no body: ${response.status}`);
  connected += 1;
  if (connected === subscribers) console.log(JSON.stringify({ connected }));
  const parser = createParser({
    onEvent: (message) => {
      if (message.event === "end") {
        ended += 1;
        return;
      }
      const seq = Number(message.id);
      lastArrival.set(seq, Math.max(lastArrival.get(seq) ?? 0, now()));
    },
  });
  const decoder = new TextDecoder();
  for await (const chunk of response.body) parser.feed(decoder.decode(chunk, { stream: true }));
}

const timeout = setTimeout(() => {
  console.log(JSON.stringify({ timedOut: true, connected, ended }));
  process.exit(1);
}, 120_000);
await Promise.all(
  Array.from({ length: subscribers }, () =>
    subscribe().catch(() => {
      failed += 1;
    }),
  ),
);
clearTimeout(timeout);
console.log(JSON.stringify({ ended, failed, arrivals: Object.fromEntries(lastArrival) }));
