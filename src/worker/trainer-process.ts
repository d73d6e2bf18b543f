import { fork } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import type {
  FromTrainer,
  StartTrainer,
  ToTrainer,
  TrainerHandle,
  TrainerJob,
} from "../dispatch/protocol.ts";

/** How much of a trainer's stderr is kept to explain its end. */
const STDERR_TAIL_CHARS = 4_096;

/**
 * What the child runs: in a checkout, trainer-child.ts through tsx's loader (by absolute URL, so
 * whatever the working folder); in a bundle (bench/gpu-worker-check.sh) the bundled
 * trainer-child.mjs beside the entry, as plain JavaScript.
 */
function childEntry(): { file: string; execArgv: string[] } {
  const bundled = fileURLToPath(new URL("./trainer-child.mjs", import.meta.url));
  if (existsSync(bundled)) return { file: bundled, execArgv: [] };
  const loader = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  return {
    file: fileURLToPath(new URL("./trainer-child.ts", import.meta.url)),
    execArgv: ["--import", loader],
  };
}

/**
 * The trainer transport: one child process per attempt, messages over IPC (structured clone,
 * so a NaN in an event stays a NaN). Its own process means its own heap and native state: a
 * fault in tfjs, Dawn or a driver ends the child, and the host sees an `exit` with the signal.
 */
export const startTrainerProcess: StartTrainer = (job: TrainerJob): TrainerHandle => {
  const entry = childEntry();
  const child = fork(entry.file, [], {
    execArgv: entry.execArgv,
    serialization: "advanced",
    // stderr passes through, and its tail is kept: a fatal error is printed there before the abort.
    stdio: ["ignore", "inherit", "pipe", "ipc"],
  });
  let tail = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    process.stderr.write(chunk);
    tail = (tail + chunk.toString("utf8")).slice(-STDERR_TAIL_CHARS);
  });
  const send = (message: ToTrainer) => {
    // A child that already exited has no channel; its exit is reported on its own.
    if (child.connected) child.send(message, (error) => error && undefined);
  };
  send({ type: "start", job });
  const handle: TrainerHandle = {
    on(event: "message" | "error" | "exit", listener: (...args: never[]) => void) {
      if (event === "message")
        child.on("message", (m) => (listener as (m: FromTrainer) => void)(m as FromTrainer));
      else child.on(event, listener as (...args: unknown[]) => void);
      return handle;
    },
    postMessage: send,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
    lastWords: () => fatalLine(tail),
  };
  return handle;
};

/** The last line of a fatal error in what the trainer wrote (V8 and Node start theirs with FATAL ERROR); null: none. */
export function fatalLine(text: string): string | null {
  const lines = text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "");
  return (
    [...lines].reverse().find((line) => /FATAL ERROR|Fatal error|Segmentation fault/i.test(line)) ?? null
  );
}
