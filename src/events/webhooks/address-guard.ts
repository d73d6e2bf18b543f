import ipaddr from "ipaddr.js";

/**
 * The SSRF guard: a webhook URL may only reach public unicast addresses. ipaddr.js (the parser
 * behind Express's proxy-addr, runtime-neutral) classifies an address by its IANA special range;
 * anything but `unicast` is refused, an IPv6 address that carries an IPv4 one (mapped,
 * compatible, NAT64, 6to4, Teredo, ISATAP) is refused when the IPv4 address inside would be, and
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
  const parsed = ipaddr.parse(hexTail(address));
  if (parsed.kind() === "ipv4") return classifyIp(parsed);
  const ip = parsed as ipaddr.IPv6;
  if (ip.isIPv4MappedAddress()) return classifyIp(ip.toIPv4Address());
  const kind = classifyIp(ip);
  // `::` and `::1` lie in the IPv4-compatible range too; they are what ipaddr.js says.
  if (kind === "unspecified" || kind === "loopback") return kind;
  for (const inner of embeddedIPv4(ip)) {
    const innerKind = classifyIp(inner);
    if (innerKind !== "public") return innerKind;
  }
  // IPv4-compatible addresses (::a.b.c.d) are deprecated (RFC 4291): no webhook needs one.
  return isIPv4Compatible(ip) ? "ipv4Compatible" : kind;
}

const DOTTED_TAIL = /:(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/**
 * `::8.8.8.8` → `::808:808`: ipaddr.js reads an IPv6 address ending in a dotted quad after `::`
 * as IPv4-mapped (`::ffff:8.8.8.8`), which hides the IPv4-compatible form; DNS answers are
 * written that way (inet_ntop), so the tail is turned into hex first.
 */
function hexTail(address: string): string {
  const quad = DOTTED_TAIL.exec(address);
  if (!quad || !address.includes(":")) return address;
  const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
  if ([a, b, c, d].some((octet) => octet > 255)) return address;
  const hex = (high: number, low: number) => ((high << 8) | low).toString(16);
  return `${address.slice(0, quad.index)}:${hex(a, b)}:${hex(c, d)}`;
}

function classifyIp(ip: ipaddr.IPv4 | ipaddr.IPv6): string {
  if (METADATA.has(ip.toNormalizedString()) || METADATA.has(ip.toString())) return "metadata";
  const range = ip.range();
  if (range === "unicast") return "public";
  // `uniqueLocal` (fc00::/7) is IPv6's private space; name it so.
  return range === "uniqueLocal" ? "private" : range;
}

const cidr = (range: string) => ipaddr.IPv6.parseCIDR(range);
const COMPATIBLE = cidr("::/96");
const SIIT = cidr("::ffff:0:0:0/96");
const NAT64 = cidr("64:ff9b::/96");
const NAT64_LOCAL = cidr("64:ff9b:1::/48");
const SIX_TO_FOUR = cidr("2002::/16");
const TEREDO = cidr("2001::/32");

const isIPv4Compatible = (ip: ipaddr.IPv6) => ip.match(COMPATIBLE);

/**
 * The IPv4 addresses an IPv6 address carries, by the forms that reach them: IPv4-compatible
 * (::/96), SIIT (::ffff:0:0:0/96), NAT64 (64:ff9b::/96, and the local-use 64:ff9b:1::/48 with
 * RFC 6052's layout for /48), 6to4 (2002::/16), Teredo (2001::/32: its server, and its client
 * with the bits flipped) and ISATAP interface identifiers (…:0:5efe:a.b.c.d, any prefix).
 */
export function embeddedIPv4(ip: ipaddr.IPv6): ipaddr.IPv4[] {
  const part = (i: number) => ip.parts[i] ?? 0;
  const ipv4Of = (high: number, low: number) =>
    new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
  const last32 = ipv4Of(part(6), part(7));
  const found: ipaddr.IPv4[] = [];
  if (ip.match(COMPATIBLE) || ip.match(SIIT) || ip.match(NAT64)) found.push(last32);
  // /48: the address in bits 48-63 and 72-87, around the zero octet `u`.
  if (ip.match(NAT64_LOCAL)) found.push(ipv4Of(part(3), ((part(4) & 0xff) << 8) | (part(5) >> 8)));
  if (ip.match(SIX_TO_FOUR)) found.push(ipv4Of(part(1), part(2)));
  if (ip.match(TEREDO)) found.push(ipv4Of(part(2), part(3)), ipv4Of(part(6) ^ 0xffff, part(7) ^ 0xffff));
  // ISATAP: 0000:5efe or 0200:5efe (the universal/local bit) before the IPv4 address.
  if ((part(4) & 0xfdff) === 0 && part(5) === 0x5efe) found.push(last32);
  return found;
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
