import { spawn } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";

describe("npm start", () => {
  it("names the dashboard, reference, health URL and admin-key file; / and /ui keep the host; SIGTERM stops the server", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "autoprog-signal-"));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      AUTOPROG_PORT: "0",
      AUTOPROG_DATA_DIR: dataDir,
      AUTOPROG_CONCURRENCY: "0",
    };
    // The human log is the default: no AUTOPROG_LOG_FORMAT from the test's environment.
    delete env.AUTOPROG_LOG_FORMAT;
    delete env.AUTOPROG_LOG;
    delete env.AUTOPROG_BOOTSTRAP_KEY;
    const npm = spawn("npm", ["start", "--silent"], { env, stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise<number | null>((resolve) => npm.once("exit", (code) => resolve(code)));
    const lines: string[] = [];
    const url = await new Promise<string>((resolve, reject) => {
      void exited.then(() => reject(new Error(`npm start exited:\n${lines.join("\n")}`)));
      createInterface({ input: npm.stdout as NodeJS.ReadableStream }).on("line", (line) => {
        lines.push(line);
        const match = /^autoprog is listening on (http:\/\/\S+)$/.exec(line);
        if (match?.[1]) resolve(match[1]);
      });
    });
    // The rest of the block is written in the same tick as its first line.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const keyFile = join(dataDir, "admin-key");
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(lines).toEqual(
      expect.arrayContaining([
        `  Dashboard      ${url}/ui/   (sign in with the admin key)`,
        `  API reference  ${url}/reference`,
        `  Health         ${url}/healthz`,
        `  Admin key      ${keyFile} (created now)`,
      ]),
    );
    expect((await readFile(keyFile, "utf8")).trim()).toMatch(/^ap_/);
    expect(lines.some((line) => line.startsWith("{"))).toBe(false);

    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/reference`)).status).toBe(200);
    const port = new URL(url).port;
    // A browser that came in on either loopback name is sent to a path, so it stays on that name.
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) {
      for (const [path, to] of [
        ["/", "/ui/"],
        ["/ui", "/ui/"],
      ]) {
        const answer = await fetch(`${url}${path}`, { redirect: "manual", headers: { host } });
        expect([path, answer.status, answer.headers.get("location")]).toEqual([
          path,
          path === "/" ? 302 : 308,
          to,
        ]);
        expect(new URL(answer.headers.get("location") ?? "", `http://${host}${path}`).host).toBe(host);
      }
    }

    npm.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(lines.some((line) => / stopped$/.test(line))).toBe(true);
    // Nothing is left listening (before the fix npm exited at once and the server kept serving).
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});
