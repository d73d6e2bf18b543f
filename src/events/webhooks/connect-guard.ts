import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { Agent, fetch as undiciFetch } from "undici";
import { classifyAddress } from "./address-guard.ts";

/**
 * Node only (undici), wired in src/node.ts. The URL check before a delivery resolves the host
 * name, and fetch would resolve it again to connect: a name that answers a public address to the
 * check and 127.0.0.1 to the connect (DNS rebinding) would slip through. Here the check runs on
 * the very addresses the socket connects to, inside undici's `connect.lookup`.
 */

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;
type Lookup = (hostname: string, options: { all?: boolean }, callback: LookupCallback) => void;

/** A lookup that fails with a clear error when any address it found is not public. */
export function checkedLookup(resolve: Lookup = dnsLookup as unknown as Lookup): Lookup {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (error, found) => {
      if (error) return callback(error, []);
      const addresses = found as LookupAddress[];
      const refused = addresses.find((a) => classifyAddress(a.address) !== "public");
      if (refused) {
        const kind = classifyAddress(refused.address);
        const refusal: NodeJS.ErrnoException = new Error(
          `${hostname} resolves to ${refused.address}, a ${kind} address, when connecting`,
        );
        refusal.code = "EADDRNOTPUBLIC";
        return callback(refusal, []);
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first)
        return callback(Object.assign(new Error(`${hostname} does not resolve`), { code: "ENOTFOUND" }), []);
      callback(null, first.address, first.family);
    });
  };
}

/**
 * A fetch whose connections reach public addresses only (the deliverer's `fetch` on Node when
 * private targets are not allowed). Literal IP hosts skip the lookup; the URL check before the
 * delivery has judged those already.
 */
export function publicOnlyFetch(resolve?: Lookup): typeof fetch {
  const agent = new Agent({ connect: { lookup: checkedLookup(resolve) } });
  // undici's own fetch takes its dispatcher; its Response is the WHATWG one the deliverer reads.
  return ((input: string | URL, init?: RequestInit) =>
    undiciFetch(input, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch;
}
