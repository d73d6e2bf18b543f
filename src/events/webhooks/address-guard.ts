import ipaddr from "ipaddr.js";

/**
 * The SSRF guard: a webhook URL may only reach public unicast addresses. ipaddr.js (the parser
 * behind Express's proxy-addr, runtime-neutral) classifies an address by its IANA special range;
 * anything but `unicast` is refused, IPv4-mapped IPv6 is judged as the IPv4 address inside, and
 * the cloud metadata addresses are named as such. Resolution is injected: Node looks names up
 * with node:dns (src/node.ts); a runtime without a resolver checks literal addresses only.
 */

/** Looks a host name up into every address it resolves to. */
export interface HostResolver {
  resolve(hostname: string): Promise<readonly string[]>;
}

export interface UrlPolicy {
  /** Allow loopback, private and link-local targets (local use and tests). */
  readonly allowPrivate: boolean;
  readonly resolver: HostResolver | null;
}

/** Instance metadata services (AWS/GCP/Azure/OpenStack, AWS over IPv6, Alibaba). */
const METADATA = new Set(["169.254.169.254", "fd00:ec2::254", "100.100.100.200"]);

/** `public`, or the name of the special range the address is in (`loopback`, `private`, …). */
export function classifyAddress(address: string): string {
  const parsed = ipaddr.parse(address);
  const ip =
    parsed.kind() === "ipv6" && (parsed as ipaddr.IPv6).isIPv4MappedAddress()
      ? (parsed as ipaddr.IPv6).toIPv4Address()
      : parsed;
  if (METADATA.has(ip.toNormalizedString()) || METADATA.has(ip.toString())) return "metadata";
  const range = ip.range();
  if (range === "unicast") return "public";
  // `uniqueLocal` (fc00::/7) is IPv6's private space; name it so.
  return range === "uniqueLocal" ? "private" : range;
}

/** Why the URL is refused, or null when it may be called. */
export async function refusalOf(url: string, policy: UrlPolicy): Promise<string | null> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "not an absolute URL";
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:")
    return "only http and https URLs are allowed";
  if (policy.allowPrivate) return null;
  // The URL parser already normalised odd IPv4 forms (`0x7f.1`, `2130706433`) to dotted quads.
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  const addresses = ipaddr.isValid(host) ? [host] : await resolveAll(host, policy.resolver);
  if (addresses === null) return `${host} does not resolve`;
  for (const address of addresses) {
    const kind = classifyAddress(address);
    if (kind !== "public") return `${host} resolves to ${address}, a ${kind} address`;
  }
  return null;
}

async function resolveAll(host: string, resolver: HostResolver | null): Promise<readonly string[] | null> {
  if (resolver === null) return [];
  try {
    const addresses = await resolver.resolve(host);
    return addresses.length > 0 ? addresses : null;
  } catch {
    return null;
  }
}
