import { type components, unwrap } from "../client/index.ts";
import { afterEpochs } from "../core/vocabulary.ts";
import { type ClientFlags, clientFor, UsageError } from "./client-options.ts";

interface ForkFlags extends ClientFlags {
  readonly fromEpoch?: number;
  readonly fromStage?: number;
  readonly arm?: string;
  readonly training?: string;
  readonly json?: boolean;
}

/** The JSON of a flag, or a UsageError naming the flag. */
function jsonFlag(flag: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`${flag} is not JSON: ${text}`);
  }
}

/** `autoprog runs fork`: a new run of the experiment from one of the run's checkpoints. */
export async function forkRunCommand(id: string, flags: ForkFlags): Promise<void> {
  if ((flags.fromEpoch === undefined) === (flags.fromStage === undefined))
    throw new UsageError("give --from-stage or --from-epoch, one of them");
  const body = {
    ...(flags.fromEpoch !== undefined ? { fromEpoch: flags.fromEpoch } : {}),
    ...(flags.fromStage !== undefined ? { fromStage: flags.fromStage } : {}),
    ...(flags.arm ? { arm: jsonFlag("--arm", flags.arm) } : {}),
    ...(flags.training ? { training: jsonFlag("--training", flags.training) } : {}),
  } as components["schemas"]["ForkRequest"];
  const fork = unwrap(await clientFor(flags).POST("/v1/runs/{id}/fork", { params: { path: { id } }, body }));
  if (flags.json) console.log(JSON.stringify(fork, null, 2));
  else
    console.log(
      `${fork.id}: ${fork.label}, forked from ${id} ${afterEpochs(fork.forkOf?.epoch ?? 0)} (queued)`,
    );
}
