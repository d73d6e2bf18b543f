import { parentPort } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../backend/select.ts";
import type { ViTConfig } from "../../model/config.ts";
import { shardGradients } from "./gradients.ts";
import type { FromGradientThread, GradientRequest, ToGradientThread } from "./protocol.ts";

/** A gradient thread: receives weights and a shard, returns the shard's gradients. */
const port = parentPort;
if (!port) throw new Error("gradient-worker.ts must run in a worker thread");
let config: ViTConfig | null = null;

const reply = (message: FromGradientThread, transfer: ArrayBuffer[] = []) =>
  port.postMessage(message, transfer);

async function compute(request: GradientRequest): Promise<void> {
  if (!config) throw new Error("gradient thread used before init");
  const weights: tf.Tensor[] = [];
  let offset = 0;
  for (const shape of request.shapes) {
    const size = shape.reduce((a, b) => a * b, 1);
    weights.push(tf.tensor(request.weights.subarray(offset, offset + size), [...shape]));
    offset += size;
  }
  const result = await shardGradients(config, request.names, weights, request.shard, request);
  const grads = new Float32Array(offset);
  offset = 0;
  for (const grad of result.grads) {
    grads.set((await grad.data()) as Float32Array, offset);
    offset += grad.size;
  }
  tf.dispose([...weights, ...result.grads]);
  reply({ type: "gradients", id: request.id, grads, loss: result.loss, correct: result.correct }, [
    grads.buffer,
  ]);
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
