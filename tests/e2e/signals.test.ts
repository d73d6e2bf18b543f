import { spawn } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";

describe("npm start", () => {
  it("passes SIGTERM on to the server: when npm exits, the server has stopped", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "autoprog-signal-"));
    const npm = spawn("npm", ["start", "--silent"], {
      env: { ...process.env, AUTOPROG_PORT: "0", AUTOPROG_DATA_DIR: dataDir, AUTOPROG_CONCURRENCY: "0" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = new Promise<number | null>((resolve) => npm.once("exit", (code) => resolve(code)));
    const lines: string[] = [];
    const url = await new Promise<string>((resolve, reject) => {
      void exited.then(() => reject(new Error(`npm start exited:\n${lines.join("\n")}`)));
      createInterface({ input: npm.stdout as NodeJS.ReadableStream }).on("line", (line) => {
        lines.push(line);
        const match = /"message":"listening","url":"([^"]+)"/.exec(line);
        if (match?.[1]) resolve(match[1]);
      });
    });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    npm.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(lines.some((line) => line.includes('"message":"stopped"'))).toBe(true);
    // Nothing is left listening (before the fix npm exited at once and the server kept serving).
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});
