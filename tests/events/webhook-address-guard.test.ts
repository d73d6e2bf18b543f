import { describe, expect, it } from "vitest";
import { classifyAddress, type HostResolver, refusalOf } from "../../src/events/webhooks/address-guard.ts";

describe("classifyAddress", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.255.0.9", "loopback"],
    ["::1", "loopback"],
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["192.168.1.1", "private"],
    ["fd12:3456::1", "private"],
    ["169.254.1.1", "linkLocal"],
    ["fe80::1", "linkLocal"],
    ["169.254.169.254", "metadata"],
    ["fd00:ec2::254", "metadata"],
    ["100.100.100.200", "metadata"],
    ["100.64.0.1", "carrierGradeNat"],
    ["0.0.0.0", "unspecified"],
    ["::", "unspecified"],
    ["224.0.0.1", "multicast"],
    ["ff02::1", "multicast"],
    // IPv4-mapped IPv6 is judged as the IPv4 address inside.
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:10.0.0.1", "private"],
    ["::ffff:169.254.169.254", "metadata"],
    ["::ffff:93.184.216.34", "public"],
    ["93.184.216.34", "public"],
    ["8.8.8.8", "public"],
    ["2606:4700:4700::1111", "public"],
    // IPv4-compatible (::/96, deprecated), as written and as the URL parser normalises it.
    ["::127.0.0.1", "loopback"],
    ["::7f00:1", "loopback"],
    ["::a9fe:a9fe", "metadata"],
    ["::a9fe:101", "linkLocal"],
    ["::10.0.0.1", "private"],
    ["::c0a8:101", "private"],
    ["::8.8.8.8", "ipv4Compatible"],
    // SIIT (::ffff:0:0:0/96).
    ["::ffff:0:7f00:1", "loopback"],
    ["::ffff:0:a00:1", "private"],
    // NAT64: the well-known prefix, and the local-use /48 (RFC 6052's layout).
    ["64:ff9b::127.0.0.1", "loopback"],
    ["64:ff9b::a9fe:a9fe", "metadata"],
    ["64:ff9b::c0a8:101", "private"],
    ["64:ff9b::808:808", "rfc6052"],
    ["64:ff9b:1:7f00:1::", "loopback"],
    ["64:ff9b:1:a00:1::", "private"],
    ["64:ff9b:1:c0a8:1:100::", "private"],
    // 6to4 (2002::/16): the IPv4 address follows the prefix.
    ["2002:7f00:1::1", "loopback"],
    ["2002:a9fe:a9fe::", "metadata"],
    ["2002:c0a8:101::1", "private"],
    ["2002:808:808::1", "6to4"],
    // Teredo (2001::/32): its server, and its client with every bit flipped.
    ["2001:0:7f00:1::1", "loopback"],
    ["2001:0:808:808:0:0:f5ff:fffe", "private"],
    ["2001:0:808:808:8000:63bf:80ff:fffe", "loopback"],
    ["2001:0:808:808:8000:63bf:f7f7:f7f7", "teredo"],
    // ISATAP interface identifiers, under any prefix.
    ["2606:4700::5efe:7f00:1", "loopback"],
    ["2606:4700::200:5efe:a00:1", "private"],
    ["2606:4700::5efe:808:808", "public"],
    // Still what ipaddr.js says about the IPv6 ranges that hold them.
    ["::", "unspecified"],
    ["::1", "loopback"],
  ])("%s is %s", (address, kind) => {
    expect(classifyAddress(address)).toBe(kind);
  });
});

const resolver = (table: Record<string, string[]>): HostResolver => ({
  resolve: async (host) => {
    const found = table[host];
    if (!found) throw new Error(`ENOTFOUND ${host}`);
    return found;
  },
});

describe("refusalOf", () => {
  const policy = {
    allowPrivate: false,
    resolver: resolver({
      "hooks.example.com": ["93.184.216.34", "2606:2800:220:1::1"],
      "sneaky.example.com": ["93.184.216.34", "10.0.0.7"],
      localhost: ["127.0.0.1", "::1"],
      "v6.example.com": ["::ffff:192.168.0.1"],
    }),
  };

  it("lets a public name or address through", async () => {
    expect(await refusalOf("https://hooks.example.com/in", policy)).toBeNull();
    expect(await refusalOf("http://8.8.8.8/in", policy)).toBeNull();
  });

  it.each([
    ["http://127.0.0.1:8080/", "127.0.0.1, a loopback address"],
    ["http://[::1]/", "::1, a loopback address"],
    ["http://[::ffff:127.0.0.1]/", "a loopback address"],
    ["http://[::127.0.0.1]/", "::7f00:1, a loopback address"],
    ["http://[::a9fe:a9fe]/", "::a9fe:a9fe, a metadata address"],
    ["http://[64:ff9b::10.0.0.1]/", "a private address"],
    ["http://[2002:7f00:1::1]/", "a loopback address"],
    // The URL parser turns these odd IPv4 spellings into 127.0.0.1 before the check.
    ["http://2130706433/", "127.0.0.1, a loopback address"],
    ["http://0x7f.1/", "127.0.0.1, a loopback address"],
    ["http://169.254.169.254/latest/meta-data", "a metadata address"],
    ["http://localhost:3000/", "a loopback address"],
    ["https://sneaky.example.com/", "10.0.0.7, a private address"],
    ["https://v6.example.com/", "a private address"],
    ["https://nowhere.example.com/", "nowhere.example.com does not resolve"],
    ["ftp://hooks.example.com/", "only http and https"],
    ["not a url", "not an absolute URL"],
  ])("refuses %s", async (url, reason) => {
    expect(await refusalOf(url, policy)).toContain(reason);
  });

  it("allows private targets when the server says so, but still only http(s)", async () => {
    const allowing = { ...policy, allowPrivate: true };
    expect(await refusalOf("http://127.0.0.1:8080/", allowing)).toBeNull();
    expect(await refusalOf("file:///etc/passwd", allowing)).toContain("only http and https");
  });
});
