import { type Command, Option } from "commander";
import {
  ApiError,
  type AutoprogClient,
  ConnectionError,
  createAutoprogClient,
  DEFAULT_API_URL,
  EventStreamError,
} from "../client/index.ts";
import { defaultAdminKeyFile } from "../env.ts";

/** What every command that talks to a server accepts. */
export interface ClientFlags {
  readonly api: string;
  readonly key?: string;
}

/** Adds `--api` and `--key` (or AUTOPROG_API_KEY) to a command that talks to a server. */
export function withClientOptions(command: Command): Command {
  return command
    .addOption(new Option("--api <url>", "the autoprog API").default(DEFAULT_API_URL))
    .addOption(
      new Option(
        "--key <key>",
        "API key (ap_…), sent as Authorization: Bearer; a local server's first key is in data/admin-key",
      ).env("AUTOPROG_API_KEY"),
    );
}

export function clientFor(flags: ClientFlags): AutoprogClient {
  return createAutoprogClient({ api: flags.api, key: flags.key });
}

/**
 * What to do about a 401: the server speaks HTTP (`Authorization: Bearer`), the CLI user passes a
 * flag or a variable, and a server started on this machine wrote its first key to a file.
 */
export function keyHint(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const file = defaultAdminKeyFile(env);
  return [
    "Pass an API key: --key ap_… on the command line, or AUTOPROG_API_KEY in the environment.",
    `A server started here wrote its first admin key to ${file}:`,
    `  export AUTOPROG_API_KEY=$(cat ${file})`,
  ].join("\n");
}

/** A failure a person can act on: printed as one message, never as a stack trace. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/**
 * Wraps a command's action: the errors the API or the network explain (a problem+json
 * `title: detail`, an unreachable URL, a bad file) are printed to stderr with exit code 1;
 * anything else is a bug and keeps its stack.
 */
export function reportErrors<A extends unknown[]>(action: (...args: A) => Promise<void>) {
  return async (...args: A): Promise<void> => {
    try {
      await action(...args);
    } catch (error) {
      if (error instanceof ApiError) {
        console.error(`error: ${error.message}${error.problem ? "" : ` (${error.status})`}`);
        if (error.status === 401) console.error(keyHint());
      } else if (
        error instanceof ConnectionError ||
        error instanceof EventStreamError ||
        error instanceof UsageError
      ) {
        console.error(`error: ${error.message}`);
      } else throw error;
      process.exitCode = 1;
    }
  };
}
