import os from "node:os";
import * as tf from "@tensorflow/tfjs";

/**
 * Start-up choice of the tfjs backend. Native TensorFlow (tfjs-node-gpu, tfjs-node) is loaded
 * with a dynamic import only when installed — their install downloads libtensorflow, so they
 * are never a dependency of ours; the GPU image installs them. Then wasm, then pure-JS cpu.
 */
export type BackendName = "tensorflow" | "wasm" | "cpu";
export const BACKEND_NAMES: readonly BackendName[] = ["tensorflow", "wasm", "cpu"];
export type BackendPreference = BackendName | "auto";

export interface BackendInfo {
  readonly name: BackendName;
  /** The npm package that provides it. */
  readonly package: string;
  readonly threads: number;
  /** Human-readable device, e.g. "GPU (CUDA)" or the CPU model. */
  readonly device: string;
  readonly gpu: boolean;
  readonly simd?: boolean;
}

export class BackendSetupError extends Error {
  override readonly name = "BackendSetupError";
}

const NATIVE_PACKAGES = [
  { package: "@tensorflow/tfjs-node-gpu", gpu: true },
  { package: "@tensorflow/tfjs-node", gpu: false },
] as const;

let active: BackendInfo | null = null;

export interface BackendRequest {
  readonly preference?: BackendPreference;
  /** Refuse to run anywhere but on a GPU. */
  readonly requireGpu?: boolean;
}

/** Reads AUTOPROG_BACKEND when no explicit preference is given. */
export function preferenceFromEnv(env: NodeJS.ProcessEnv = process.env): BackendPreference {
  const value = env.AUTOPROG_BACKEND ?? "auto";
  if (value === "auto" || (BACKEND_NAMES as readonly string[]).includes(value))
    return value as BackendPreference;
  throw new BackendSetupError(`AUTOPROG_BACKEND=${value} is not one of auto, ${BACKEND_NAMES.join(", ")}`);
}

/** Selects (once per process) and reports the backend. Throws BackendSetupError when a demand cannot be met. */
export async function initBackend(request: BackendRequest = {}): Promise<BackendInfo> {
  // An explicit choice wins; "auto" (the spec default) still honours AUTOPROG_BACKEND.
  const preference =
    request.preference && request.preference !== "auto" ? request.preference : preferenceFromEnv();
  if (active && (preference === "auto" || preference === active.name)) return check(active, request);
  const candidates: BackendName[] = preference === "auto" ? [...BACKEND_NAMES] : [preference];
  const failures: string[] = [];
  for (const name of candidates) {
    try {
      const info = await load(name);
      if (info) {
        active = info;
        return check(info, request);
      }
      failures.push(`${name}: not installed`);
    } catch (error) {
      failures.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  throw new BackendSetupError(`no usable tfjs backend (${failures.join("; ")})`);
}

function check(info: BackendInfo, request: BackendRequest): BackendInfo {
  if (request.requireGpu && !info.gpu) {
    throw new BackendSetupError(
      `the spec requires a GPU but the backend is ${info.name} on ${info.device}; install @tensorflow/tfjs-node-gpu with CUDA`,
    );
  }
  return info;
}

async function load(name: BackendName): Promise<BackendInfo | null> {
  const cpuModel = os.cpus()[0]?.model?.trim() ?? "unknown CPU";
  if (name === "tensorflow") {
    for (const native of NATIVE_PACKAGES) {
      if (!(await importOptional(native.package))) continue;
      if (!(await tf.setBackend("tensorflow"))) continue;
      await tf.ready();
      return {
        name,
        package: native.package,
        threads: os.availableParallelism(),
        device: native.gpu ? "GPU (CUDA, libtensorflow)" : `${cpuModel} (libtensorflow)`,
        gpu: native.gpu,
      };
    }
    return null;
  }
  if (name === "wasm") {
    await import("@tensorflow/tfjs-backend-wasm");
    if (!(await tf.setBackend("wasm"))) return null;
    await tf.ready();
    const simd = Boolean(await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT"));
    // tfjs 4.22 disables wasm multithreading in Node: one thread.
    return { name, package: "@tensorflow/tfjs-backend-wasm", threads: 1, device: cpuModel, gpu: false, simd };
  }
  if (!(await tf.setBackend("cpu"))) return null;
  await tf.ready();
  return { name, package: "@tensorflow/tfjs", threads: 1, device: cpuModel, gpu: false };
}

/** Dynamic import of a package that may not be installed; other load errors propagate. */
async function importOptional(specifier: string): Promise<boolean> {
  try {
    await import(specifier);
    return true;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") return false;
    throw error;
  }
}
