import { Worker } from "node:worker_threads";
import type { ViTConfig } from "../../model/config.ts";
import type { FromGradientThread, GradientReply, GradientRequest, ToGradientThread } from "./protocol.ts";

type Pending = { resolve: (reply: GradientReply) => void; reject: (error: Error) => void };

/**
 * Gradient threads for data-parallel steps: the wasm backend runs one thread per isolate, so
 * a second core only helps if a second isolate computes half of each batch. Each thread holds
 * no state between steps: it receives the current weights and its shard, returns gradients.
 */
export class GradientPool {
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failure: Error | null = null;

  private constructor(private readonly threads: Worker[]) {
    for (const thread of threads) {
      thread.on("message", (message: FromGradientThread) => this.receive(message));
      thread.on("error", (error) => this.fail(error));
      thread.on("exit", (code) => {
        if (code !== 0) this.fail(new Error(`a gradient thread exited with code ${code}`));
      });
    }
  }

  /** Starts `size` threads on the given backend and waits until each is ready. */
  static async start(
    size: number,
    config: ViTConfig,
    backend: "tensorflow" | "webgpu" | "wasm" | "cpu",
  ): Promise<GradientPool> {
    const threads = Array.from(
      { length: size },
      () => new Worker(new URL("./gradient-thread.mjs", import.meta.url)),
    );
    await Promise.all(
      threads.map(
        (thread) =>
          new Promise<void>((resolve, reject) => {
            const onMessage = (message: FromGradientThread) => {
              if (message.type === "ready") resolve();
              else if (message.type === "error") reject(new Error(message.message));
              else return;
              thread.off("message", onMessage);
            };
            thread.on("message", onMessage);
            thread.once("error", reject);
            const init: ToGradientThread = { type: "init", config, backend };
            thread.postMessage(init);
          }),
      ),
    ).catch(async (error: unknown) => {
      await Promise.all(threads.map((t) => t.terminate()));
      throw error;
    });
    return new GradientPool(threads);
  }

  get size(): number {
    return this.threads.length;
  }

  /** Sends one request per thread (request i to thread i); resolves with the replies in order. */
  compute(requests: readonly Omit<GradientRequest, "type" | "id">[]): Promise<GradientReply[]> {
    if (this.failure) return Promise.reject(this.failure);
    if (requests.length > this.threads.length) throw new Error("more shards than gradient threads");
    return Promise.all(
      requests.map(
        (request, i) =>
          new Promise<GradientReply>((resolve, reject) => {
            const id = this.nextId++;
            this.pending.set(id, { resolve, reject });
            const message: ToGradientThread = { ...request, type: "gradients", id };
            (this.threads[i] as Worker).postMessage(message);
          }),
      ),
    );
  }

  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.terminate()));
  }

  private receive(message: FromGradientThread): void {
    if (message.type === "gradients") {
      const pending = this.pending.get(message.id);
      this.pending.delete(message.id);
      pending?.resolve(message);
    } else if (message.type === "error") this.fail(new Error(`gradient thread: ${message.message}`));
  }

  private fail(error: Error): void {
    this.failure = error;
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}
