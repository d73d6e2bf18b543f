import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

// .ci/install-lavapipe.sh in --dry-run against a fake machine: its /etc and ICD under LAVAPIPE_ROOT,
// and a `dpkg-query` on PATH that reports the installed Mesa. The version test is the real `dpkg`.
const SCRIPT = join(import.meta.dirname, "../../.ci/install-lavapipe.sh");
const hasDpkg = spawnSync("dpkg", ["--version"]).status === 0;
const scratch = mkdtempSync(join(tmpdir(), "autoprog-lavapipe-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const DEBIAN_SOURCES = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/example.gpg

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/other.gpg
`;

interface FakeMachine {
  /** The installed mesa-vulkan-drivers' version; "removed" leaves only its config files. */
  readonly mesa: string | null;
  readonly icd: boolean;
  readonly codename?: string;
  readonly backports?: boolean;
}

function dryRun(name: string, machine: FakeMachine): { status: number | null; out: string } {
  const root = join(scratch, name);
  const bin = join(root, "bin");
  mkdirSync(join(root, "etc/apt/sources.list.d"), { recursive: true });
  mkdirSync(join(root, "usr/share/vulkan/icd.d"), { recursive: true });
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(root, "etc/os-release"), `VERSION_CODENAME=${machine.codename ?? "bookworm"}\n`);
  writeFileSync(join(root, "etc/apt/sources.list.d/debian.sources"), DEBIAN_SOURCES);
  if (machine.backports)
    writeFileSync(
      join(root, "etc/apt/sources.list.d/backports.list"),
      "deb http://deb.debian.org/debian bookworm-backports main\n",
    );
  if (machine.icd) writeFileSync(join(root, "usr/share/vulkan/icd.d/lvp_icd.json"), "{}");
  // dpkg-query -W -f='${db:Status-Status} ${Version}\n' mesa-vulkan-drivers
  const query =
    machine.mesa === null
      ? "exit 1"
      : machine.mesa === "removed"
        ? "echo 'config-files 25.0.7-2~bpo12+1'"
        : `echo 'installed ${machine.mesa}'`;
  writeFileSync(join(bin, "dpkg-query"), `#!/bin/sh\n${query}\n`);
  chmodSync(join(bin, "dpkg-query"), 0o755);
  const result = spawnSync("bash", [SCRIPT, "--dry-run"], {
    env: { ...process.env, LAVAPIPE_ROOT: root, PATH: `${bin}:${process.env.PATH}` },
    encoding: "utf8",
  });
  return { status: result.status, out: result.stdout + result.stderr };
}

describe.runIf(hasDpkg)(".ci/install-lavapipe.sh (dry run)", () => {
  it("does nothing when Mesa ≥ 25 and its lavapipe ICD are installed", () => {
    const { status, out } = dryRun("ready", { mesa: "25.0.7-2~bpo12+1", icd: true });
    expect(status).toBe(0);
    expect(out).toMatch(/mesa-vulkan-drivers 25\.0\.7-2~bpo12\+1 with .*lvp_icd\.json, nothing to do/);
    expect(out).not.toContain("would run");
  });

  it.each<[string, FakeMachine]>([
    ["Debian 12's own Mesa 22.3", { mesa: "22.3.6-1+deb12u1", icd: true }],
    ["no Mesa Vulkan drivers", { mesa: null, icd: false }],
    ["Mesa 25 removed, its config files left", { mesa: "removed", icd: true }],
    ["Mesa 25 without the ICD file", { mesa: "25.0.7-2~bpo12+1", icd: false }],
  ])("installs from bookworm-backports with the system's mirror and keyring: %s", (_, machine) => {
    const { status, out } = dryRun(machine.mesa ?? "none", machine);
    expect(status).toBe(0);
    expect(out).toContain(
      "URIs: http://mirror.example/debian\nSuites: bookworm-backports\nComponents: main\n" +
        "Signed-By: /usr/share/keyrings/example.gpg",
    );
    expect(out).toContain("would run: apt-get update\n");
    expect(out).toContain("would run: apt-get install -y -t bookworm-backports mesa-vulkan-drivers\n");
  });

  it("adds no second backports source when one is configured", () => {
    const { out } = dryRun("backports", { mesa: "22.3.6-1+deb12u1", icd: true, backports: true });
    expect(out).toContain("a bookworm-backports source is already configured");
    expect(out).not.toContain("would write");
    expect(out).toContain("-t bookworm-backports mesa-vulkan-drivers");
  });

  it("takes the release's own Mesa on a newer Debian", () => {
    const { out } = dryRun("trixie", { mesa: null, icd: false, codename: "trixie" });
    expect(out).not.toContain("bookworm-backports");
    expect(out).toContain("would run: apt-get install -y mesa-vulkan-drivers\n");
  });
});
