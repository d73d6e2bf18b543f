import { writeFile } from "node:fs/promises";
import { unwrap } from "../client/index.ts";
import { type ClientFlags, clientFor } from "./client-options.ts";

/** `autoprog runs download|checkpoints`: a run's trained weights and the checkpoints behind them. */

interface DownloadFlags extends ClientFlags {
  readonly weights?: string;
  readonly epoch?: number;
  readonly output?: string;
}

/**
 * Writes the run's weights as safetensors (`GET /v1/runs/{id}/model`) to `--output`, by default
 * the file name the server gives (`<run>-<weights>-epoch-<n>.safetensors`) in the current folder.
 */
export async function downloadModelCommand(id: string, flags: DownloadFlags): Promise<void> {
  const result = await clientFor(flags).GET("/v1/runs/{id}/model", {
    params: {
      path: { id },
      query: {
        ...(flags.weights ? { weights: flags.weights } : {}),
        ...(flags.epoch !== undefined ? { epoch: String(flags.epoch) } : {}),
      },
    },
    parseAs: "arrayBuffer",
  });
  const bytes = new Uint8Array(unwrap(result));
  const output = flags.output ?? fileNameOf(result.response) ?? `${id}.safetensors`;
  await writeFile(output, bytes);
  console.log(`${output}: ${bytes.byteLength} bytes (safetensors; docs/model-files.md names the tensors)`);
}

/** The file name of a `Content-Disposition: attachment; filename="…"` header, when it is a plain one. */
function fileNameOf(response: Response): string | undefined {
  const name = /filename="([^"/\\]+)"/.exec(response.headers.get("content-disposition") ?? "")?.[1];
  return name && !name.startsWith(".") ? name : undefined;
}

export async function listCheckpointsCommand(
  id: string,
  flags: ClientFlags & { json?: boolean },
): Promise<void> {
  const list = unwrap(await clientFor(flags).GET("/v1/runs/{id}/checkpoints", { params: { path: { id } } }));
  if (flags.json) console.log(JSON.stringify(list, null, 2));
  else if (list.items.length === 0) console.log(`${id}: no checkpoints on the server`);
  else for (const c of list.items) console.log(`epoch ${c.epoch}  ${c.bytes} bytes  ${c.url}`);
}
