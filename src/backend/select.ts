import { existsSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { BACKEND_NAMES, type BackendReport } from "../core/events.ts";
import { installWasmSlice } from "./wasm-slice.ts";

/**
 * Start-up choice of the tfjs backend. Native TensorFlow (tfjs-node-gpu, tfjs-node) is loaded
 * with a dynamic import only when installed — their install downloads libtensorflow, so they
 * are never a dependency of ours; the GPU image installs them. Then WebGPU through Dawn (the
 * `webgpu` package: a prebuilt addon that reaches the GPU driver through Vulkan), then wasm,
 * then pure-JS cpu.
 */
/** The report of the backend a run trains on: defined once, in the event contract. */
export type BackendInfo = BackendReport;
export type BackendName = BackendReport["name"];
export type BackendPreference = BackendName | "auto";
/** The WebGPU adapter a webgpu backend runs on (a fallback/software one never counts as a GPU). */
export type AdapterReport = NonNullable<BackendReport["adapter"]>;
export { BACKEND_NAMES };

export class BackendSetupError extends Error {
  override readonly name = "BackendSetupError";
}

/** The parts of WebGPU's GPUAdapterInfo we read; Dawn builds may add or lack fields. */
export interface AdapterInfoLike {
  readonly vendor?: string;
  readonly architecture?: string;
  readonly device?: string;
  readonly description?: string;
  readonly driver?: string;
  readonly isFallbackAdapter?: boolean;
  /** Dawn-native's adapter type ("discrete GPU", "integrated GPU", "CPU", …) where exposed. */
  readonly adapterType?: string;
}

export interface AdapterLike {
  readonly info?: AdapterInfoLike;
  /** Older spec: the flag lived on the adapter. */
  readonly isFallbackAdapter?: boolean;
  /** Older Dawn/Chrome, before `adapter.info`. */
  requestAdapterInfo?(): Promise<AdapterInfoLike>;
}

/** `navigator.gpu`, structurally: all this module touches. */
export interface GpuLike {
  requestAdapter(options?: {
    powerPreference?: "high-performance" | "low-power";
  }): Promise<AdapterLike | null>;
}

const NATIVE_PACKAGES = [
  { package: "@tensorflow/tfjs-node-gpu", gpu: true },
  { package: "@tensorflow/tfjs-node", gpu: false },
] as const;

const GPU_ROUTES =
  "install @tensorflow/tfjs-node-gpu with CUDA, or run the webgpu backend (Dawn) on a machine with a Vulkan GPU driver";

let active: BackendInfo | null = null;
let skipped: string[] = [];

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

/** Why each backend tried before the chosen one was passed over ("webgpu: no adapter (…)"), last selection. */
export function skippedBackends(): readonly string[] {
  return skipped;
}

/** Selects (once per process) and reports the backend. Throws BackendSetupError when a demand cannot be met. */
export async function initBackend(request: BackendRequest = {}): Promise<BackendInfo> {
  // An explicit choice wins; "auto" (the spec default) still honours AUTOPROG_BACKEND.
  const preference =
    request.preference && request.preference !== "auto" ? request.preference : preferenceFromEnv();
  if (active && (preference === "auto" || preference === active.name)) return check(active, request);
  // Under auto, a GPU demand tries only the backends that can be one.
  const candidates: BackendName[] =
    preference === "auto"
      ? BACKEND_NAMES.filter((name) => !request.requireGpu || name === "tensorflow" || name === "webgpu")
      : [preference];
  const failures: string[] = [];
  let chosen: BackendInfo | null = null;
  for (const name of candidates) {
    try {
      chosen = await load(name, request, preference === "auto");
      if (chosen && request.requireGpu && !chosen.gpu && candidates.length > 1) {
        failures.push(`${name}: ${chosen.device} is not a GPU`);
        chosen = null;
        continue;
      }
      if (chosen) break;
      failures.push(`${name}: not installed`);
    } catch (error) {
      failures.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  skipped = failures;
  if (!chosen) {
    const routes = request.requireGpu ? `; for a GPU, ${GPU_ROUTES}` : "";
    throw new BackendSetupError(`no usable tfjs backend (${failures.join("; ")})${routes}`);
  }
  active = chosen;
  return check(chosen, request);
}

function check(info: BackendInfo, request: BackendRequest): BackendInfo {
  if (request.requireGpu && !info.gpu) {
    throw new BackendSetupError(
      `the spec requires a GPU but the backend is ${info.name} on ${info.device}; ${GPU_ROUTES}` +
        (skipped.length > 0 ? ` (skipped: ${skipped.join("; ")})` : ""),
    );
  }
  return info;
}

/** `auto`: chosen without being asked for, so a software WebGPU adapter is passed over. */
async function load(name: BackendName, request: BackendRequest, auto: boolean): Promise<BackendInfo | null> {
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
  if (name === "webgpu") return loadWebgpu(request, auto);
  if (name === "wasm") {
    await import("@tensorflow/tfjs-backend-wasm");
    installWasmSlice();
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

/**
 * WebGPU: `navigator.gpu` when the runtime (or a test) provides one, else Dawn from the `webgpu`
 * package. We ask for the adapter ourselves first so that "no adapter" is a clean skip with a
 * reason, and a fallback adapter fails `requireGpu` before any backend is registered. Under `auto` a
 * software adapter is passed over too: llvmpipe trains ~10–30× slower than wasm and looks hung;
 * asking for `webgpu` by name still uses it (CI's kernel tests run on lavapipe).
 * tfjs' webgpu flags stay at their defaults: WEBGPU_CPU_FORWARD=false and a larger
 * WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE measured no gain on H100/H200 (docs/tfjs-notes.md).
 */
async function loadWebgpu(request: BackendRequest, auto: boolean): Promise<BackendInfo | null> {
  const existing = navigatorGpu();
  let gpu: GpuLike;
  let dawnGlobals: object | null = null;
  if (existing) gpu = existing;
  else {
    // The import fails when the `webgpu` package (or its prebuilt dawn.node for this platform) is absent.
    let dawn: typeof import("webgpu");
    try {
      dawn = await import("webgpu");
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") return null;
      throw error;
    }
    gpu = dawn.create(dawnFlags()) as unknown as GpuLike;
    dawnGlobals = dawn.globals;
  }
  const found = await requestGpuAdapter(gpu);
  if (!found) throw new Error(`no adapter (${noAdapterReason(existing !== null)})`);
  const label = existing ? "WebGPU" : dawnBackendLabel();
  const info = webgpuBackendInfo(found, label, existing ? "navigator.gpu" : "webgpu (Dawn)");
  if (request.requireGpu && !info.gpu) throw new Error(`${info.device} is not a GPU`);
  if (auto && !info.gpu)
    throw new Error(`${info.device} is a software adapter (ask for backend webgpu to train on it)`);
  if (dawnGlobals) exposeDawn(gpu, dawnGlobals);
  // Registers the backend at import time, and only if navigator.gpu exists by then.
  await import("@tensorflow/tfjs-backend-webgpu");
  if (!(await tf.setBackend("webgpu"))) throw new Error(`tfjs could not start on ${info.device}`);
  await tf.ready();
  return info;
}

/** Asks for the high-performance adapter and describes it; null when there is none. */
export async function requestGpuAdapter(gpu: GpuLike): Promise<AdapterReport | null> {
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) return null;
  const info = adapter.info ?? (adapter.requestAdapterInfo ? await adapter.requestAdapterInfo() : {});
  return describeAdapter(adapter, info);
}

const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|softpipe|basic render driver/i;
/** Dawn reports lavapipe's architecture as "software"; Dawn-native's adapter type says "CPU". */
const SOFTWARE_KIND = /^(cpu|software)$/i;

/** Adapter info in our shape; `isFallback` also covers software rasterisers that Dawn does not flag. */
export function describeAdapter(adapter: AdapterLike, info: AdapterInfoLike): AdapterReport {
  const text = (s: string | undefined) => s?.trim() ?? "";
  const description = text(info.description);
  const flagged = info.isFallbackAdapter === true || adapter.isFallbackAdapter === true;
  const software =
    SOFTWARE_KIND.test(text(info.adapterType)) ||
    SOFTWARE_KIND.test(text(info.architecture)) ||
    SOFTWARE_ADAPTER.test(`${info.device} ${description}`);
  // Dawn on Vulkan: description is the driver's "NVIDIA: 580.95.05"; take the version from it.
  const driver = text(info.driver) || /\d+(?:\.\d+)+/.exec(description)?.[0];
  return {
    vendor: text(info.vendor),
    architecture: text(info.architecture),
    device: text(info.device),
    description,
    ...(driver ? { driver } : {}),
    isFallback: flagged || software,
  };
}

/** The backend report for an adapter: a GPU only when the adapter is hardware. */
export function webgpuBackendInfo(adapter: AdapterReport, api: string, pkg: string): BackendInfo {
  const name = adapter.device || adapter.description || adapter.vendor || "unknown adapter";
  const details = [
    api,
    adapter.driver ? `driver ${adapter.driver}` : "",
    adapter.isFallback ? "fallback" : "",
  ];
  return {
    name: "webgpu",
    package: `@tensorflow/tfjs-backend-webgpu + ${pkg}`,
    // Host-side dispatch is single-threaded JavaScript.
    threads: 1,
    device: `${name} (${details.filter(Boolean).join(", ")})`,
    gpu: !adapter.isFallback,
    adapter,
  };
}

function navigatorGpu(): GpuLike | null {
  const nav = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator;
  return nav?.gpu ?? null;
}

/**
 * Dawn's own flags (AUTOPROG_DAWN_FLAGS, e.g. "backend=vulkan"), always with the toggle
 * allow_unsafe_apis: without it Dawn hides its experimental subgroup-matrix feature (tensor cores),
 * which the compiled step requests for mixed precision. The toggle only makes features
 * requestable; nothing requests them otherwise.
 */
export function dawnFlags(): string[] {
  const flags = (process.env.AUTOPROG_DAWN_FLAGS ?? "").split(/\s+/).filter(Boolean);
  const at = flags.findIndex((flag) => flag.startsWith("enable-dawn-features="));
  if (at < 0) return [...flags, "enable-dawn-features=allow_unsafe_apis"];
  if (!flags[at]?.includes("allow_unsafe_apis")) flags[at] = `${flags[at]},allow_unsafe_apis`;
  return flags;
}

function dawnBackendLabel(): string {
  const forced = /^backend=(\w+)/.exec(dawnFlags().find((f) => f.startsWith("backend=")) ?? "")?.[1];
  if (forced) return forced;
  return process.platform === "darwin" ? "Metal" : process.platform === "win32" ? "D3D12" : "Vulkan";
}

/** What tfjs-backend-webgpu expects of a browser: GPU* constants and `navigator.gpu`. Never clobbers. */
function exposeDawn(gpu: GpuLike, dawnGlobals: object): void {
  exposeGpuConstants(dawnGlobals);
  const scope = globalThis as Record<string, unknown>;
  const nav = scope.navigator as { gpu?: GpuLike } | undefined;
  if (nav === undefined) scope.navigator = { gpu };
  else if (nav.gpu === undefined) Object.defineProperty(nav, "gpu", { value: gpu, configurable: true });
}

/** Dawn's `globals` (`GPUBufferUsage`, `GPUMapMode`, …) on globalThis, as a browser has them. Never clobbers. */
export function exposeGpuConstants(dawnGlobals: object): void {
  const scope = globalThis as Record<string, unknown>;
  for (const [key, value] of Object.entries(dawnGlobals)) if (scope[key] === undefined) scope[key] = value;
}

/** Dawn prints the loader's error to stderr; this names the likely cause in the skip reason. */
export function noAdapterReason(fromNavigator: boolean): string {
  if (fromNavigator) return "navigator.gpu.requestAdapter() returned null";
  if (process.platform !== "linux") return "Dawn found no adapter";
  const dirs = (process.env.LD_LIBRARY_PATH ?? "").split(":").filter(Boolean);
  dirs.push("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/lib");
  if (!dirs.some((dir) => existsSync(join(dir, "libvulkan.so.1"))))
    return "Dawn found no Vulkan loader libvulkan.so.1: install libvulkan1 and a GPU driver with a Vulkan ICD";
  const icd = process.env.VK_DRIVER_FILES ?? process.env.VK_ICD_FILENAMES;
  return icd
    ? `Dawn found no usable Vulkan device with VK_DRIVER_FILES=${icd}`
    : "Dawn found no usable Vulkan device; set VK_DRIVER_FILES to the driver's ICD (e.g. nvidia_icd.json)";
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
