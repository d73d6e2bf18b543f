import { type Command, Option } from "commander";
import {
  ApiError,
  type AutoprogClient,
  ConnectionError,
  createAutoprogClient,
  DEFAULT_API_URL,
  EventStreamError,
} from "../client/index.ts";

/** What every command that talks to a server accepts. */
export interface ClientFlags {
  readonly api: string;
  readonly key?: string;
}

/** Adds `--api` and `--key` (or AUTOPROG_API_KEY) to a command that talks to a server. */
export function withClientOptions(command: Command): Command {
  return command
    .addOption(new Option("--api <url>", "the autoprog API").default(DEFAULT_API_URL))
    .addOption(new Option("--key <key>", "API key, sent as Authorization: Bearer").env("AUTOPROG_API_KEY"));
}

export function clientFor(flags: ClientFlags): AutoprogClient {
  return createAutoprogClient({ api: flags.api, key: flags.key });
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
