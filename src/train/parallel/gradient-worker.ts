import { parentPort } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../backend/select.ts";
import { createRandom } from "../../core/random.ts";
import type { ViTConfig } from "../../model/config.ts";
import { FlatLayout } from "../flat.ts";
import { batchGradients, readLossAndCorrect } from "../gradients.ts";
import type { FromGradientThread, GradientRequest, ToGradientThread } from "./protocol.ts";

/** A gradient thread: receives weights and a shard, returns the shard's gradients. */
const port = parentPort;
if (!port) throw new Error("gradient-worker.ts must run in a worker thread");
let config: ViTConfig | null = null;

const reply = (message: FromGradientThread, transfer: ArrayBuffer[] = []) =>
  port.postMessage(message, transfer);

async function compute(request: GradientRequest): Promise<void> {
  if (!config) throw new Error("gradient thread used before init");
  const layout = new FlatLayout(request.names.map((name, i) => [name, request.shapes[i] ?? []] as const));
  const flatWeights = tf.tensor1d(request.weights);
  const weights = layout.unflatten(flatWeights);
  flatWeights.dispose();
  const dropPath = request.dropPath
    ? { rate: request.dropPath.rate, random: createRandom(request.dropPath.seed) }
    : null;
  const gradients = batchGradients(config, weights, request.shard, { ...request, dropPath });
  const grads = (await gradients.flat.data()) as Float32Array;
  const { loss, correct } = await readLossAndCorrect(gradients);
  tf.dispose([gradients.flat, ...weights.values()]);
  reply({ type: "gradients", id: request.id, grads, loss, correct }, [grads.buffer as ArrayBuffer]);
}

port.on("message", (message: ToGradientThread) => {
  const work =
    message.type === "init"
      ? initBackend({ preference: message.backend }).then(() => {
          config = message.config;
          reply({ type: "ready" });
        })
      : compute(message);
  work.catch((error: unknown) =>
    reply({ type: "error", message: error instanceof Error ? error.message : String(error) }),
  );
});
