import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { checkedLookup, publicOnlyFetch } from "../../src/events/webhooks/connect-guard.ts";

type Found = { address: string; family: number }[];
/** A resolver that answers every name with `found` (what a rebinding DNS server would say at connect time). */
const answering =
  (found: Found) =>
  (_host: string, _options: { all?: boolean }, callback: (e: Error | null, a: Found) => void) =>
    callback(null, found);

function lookupOnce(found: Found, all: boolean) {
  return new Promise<{ error: NodeJS.ErrnoException | null; address: unknown }>((resolve) =>
    checkedLookup(answering(found))("hooks.example", { all }, (error, address) =>
      resolve({ error, address }),
    ),
  );
}

describe("the webhook connect guard", () => {
  it("passes public addresses through, in either lookup form", async () => {
    const found = [{ address: "93.184.215.14", family: 4 }];
    expect(await lookupOnce(found, true)).toEqual({ error: null, address: found });
    expect(await lookupOnce(found, false)).toEqual({ error: null, address: "93.184.215.14" });
  });

  it("refuses a name that resolves to a private address at connect time", async () => {
    const { error } = await lookupOnce(
      [
        { address: "93.184.215.14", family: 4 },
        { address: "::ffff:10.0.0.7", family: 6 },
      ],
      true,
    );
    expect(error?.code).toBe("EADDRNOTPUBLIC");
    expect(error?.message).toContain("::ffff:10.0.0.7, a private address");
  });

  it("never opens a connection to loopback, whatever the earlier check saw", async () => {
    let requests = 0;
    const server = createServer((_req, res) => {
      requests += 1;
      res.end("ok");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const guarded = publicOnlyFetch(answering([{ address: "127.0.0.1", family: 4 }]));
      const failure = await guarded(`http://rebind.example:${port}/hook`, {
        method: "POST",
        body: "{}",
      }).then(
        () => null,
        (error: Error & { cause?: Error }) => error,
      );
      expect(failure?.cause?.message).toContain("127.0.0.1, a loopback address");
      expect(requests).toBe(0);
      // The same server is reachable without the guard: the refusal above is the guard's.
      const plain = await fetch(`http://127.0.0.1:${port}/hook`);
      expect(await plain.text()).toBe("ok");
      expect(requests).toBe(1);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
