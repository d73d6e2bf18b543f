import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { createParser, type EventSourceMessage } from "eventsource-parser";

/**
 * The operator key (home project `default`) every server started here bootstraps with
 * (AUTOPROG_BOOTSTRAP_KEY); `getJson` and `followEvents` send it unless told otherwise.
 */
export const SERVER_KEY = `ap_${"e2e-admin-".padEnd(43, "e")}`;
const AUTH = { authorization: `Bearer ${SERVER_KEY}` };

/** The real server as a child process (`node --import tsx src/serve.ts`, as `npm start`) on a free port. */
export interface ServerProcess {
  readonly url: string;
  readonly child: ChildProcess;
  readonly logs: string[];
  /** SIGTERM and wait for a clean exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: the crash case. */
  kill(): Promise<void>;
}

export async function startServer(
  dataDir: string,
  env: Record<string, string> = {},
  /** How long the server may take to log "listening" (longer on a loaded machine). */
  startTimeoutMs = 60_000,
): Promise<ServerProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/serve.ts"], {
    env: {
      ...process.env,
      AUTOPROG_PORT: "0",
      AUTOPROG_DATA_DIR: dataDir,
      AUTOPROG_BOOTSTRAP_KEY: SERVER_KEY,
      // The start is found by its JSON "listening" record.
      AUTOPROG_LOG_FORMAT: "json",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on("line", (line) => logs.push(line));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the server did not start:\n${logs.join("\n")}`)),
      startTimeoutMs,
    );
    void exited.then((code) => reject(new Error(`the server exited (${code}):\n${logs.join("\n")}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      logs.push(line);
      const message = safeJson(line);
      if (message?.message === "listening" && typeof message.url === "string") {
        clearTimeout(timer);
        resolve(message.url);
      }
    });
  });
  return {
    url,
    child,
    logs,
    async stop() {
      child.kill("SIGTERM");
      return exited;
    },
    async kill() {
      child.kill("SIGKILL");
      await exited;
    },
  };
}

function safeJson(line: string): Record<string, unknown> | null {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/**
 * Follows a run's event stream over HTTP with a spec-following parser, until `stop` says so,
 * the `end` event arrives or the server closes the stream.
 */
export async function followEvents(
  url: string,
  options: { lastEventId?: string; stop?: (messages: EventSourceMessage[]) => boolean } = {},
): Promise<{ messages: EventSourceMessage[]; ended: boolean }> {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: {
      ...AUTH,
      accept: "text/event-stream",
      ...(options.lastEventId ? { "last-event-id": options.lastEventId } : {}),
    },
    signal: controller.signal,
  });
  if (response.status !== 200 || !response.body) throw new Error(`events: ${response.status}`);
  const messages: EventSourceMessage[] = [];
  let ended = false;
  let stopped = false;
  // `stop` is asked after each message, not each chunk: a finished run's replay can come in one
  // chunk, and the client must still drop at the message it asked for.
  const parser = createParser({
    onEvent: (message) => {
      if (ended || stopped) return;
      messages.push(message);
      if (message.event === "end") ended = true;
      else stopped = options.stop?.(messages) ?? false;
    },
  });
  const decoder = new TextDecoder();
  const reader = response.body.getReader();
  while (!ended) {
    const chunk = await reader.read();
    if (chunk.done) break;
    parser.feed(decoder.decode(chunk.value, { stream: true }));
    if (stopped) {
      // Disconnect midway, like a client whose network dropped.
      controller.abort();
      await reader.cancel().catch(() => undefined);
      break;
    }
  }
  return { messages, ended };
}

export async function getJson<T = Record<string, unknown>>(url: string, init?: RequestInit): Promise<T> {
  const headers = new Headers(init?.headers);
  if (!headers.has("authorization")) headers.set("authorization", AUTH.authorization);
  const response = await fetch(url, { ...init, headers });
  if (!response.ok)
    throw new Error(`${init?.method ?? "GET"} ${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}
