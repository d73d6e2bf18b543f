import { ValidationSeverity, type ValidatorSettings, validate } from "dockerfile-utils";
import { describe, expect, it } from "vitest";
import { BACKEND_NAMES } from "../../src/core/events.ts";
import {
  DOCKERFILES,
  envPairs,
  execForm,
  exists,
  knownSettings,
  parseDockerfile,
  read,
  type Stage,
  scriptsCiRuns,
} from "./files.ts";

/**
 * The images cannot be built here (no Docker engine), so these are the facts a build or a start
 * would trip over, read from the files: lint, pinned bases, non-root, exec-form CMD, and every
 * script, file and setting they name actually existing.
 */
const EVERY_RULE_AN_ERROR: ValidatorSettings = {
  deprecatedMaintainer: ValidationSeverity.ERROR,
  directiveCasing: ValidationSeverity.ERROR,
  emptyContinuationLine: ValidationSeverity.ERROR,
  instructionCasing: ValidationSeverity.ERROR,
  instructionCmdMultiple: ValidationSeverity.ERROR,
  instructionEntrypointMultiple: ValidationSeverity.ERROR,
  instructionHealthcheckMultiple: ValidationSeverity.ERROR,
  instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
  instructionWorkdirRelative: ValidationSeverity.ERROR,
};

const final = (stages: Stage[]): Stage => {
  const last = stages.at(-1);
  if (!last) throw new Error("no FROM");
  return last;
};
const stepsOf = (stage: Stage, keyword: string) => stage.steps.filter((s) => s.keyword === keyword);
const envOf = (stage: Stage): Map<string, string> => new Map(stepsOf(stage, "ENV").flatMap(envPairs));
const cmdOf = (stage: Stage): string[] => {
  const cmds = stepsOf(stage, "CMD");
  expect(cmds, "one CMD in the final stage").toHaveLength(1);
  const argv = execForm(cmds[0]?.text ?? "");
  expect(argv, "exec-form CMD: Node is PID 1 and receives SIGTERM").not.toBeNull();
  return argv ?? [];
};
const ignoreFileOf = (dockerfile: string) => `${dockerfile}.dockerignore`;
const ignored = (dockerfile: string): string[] =>
  read(ignoreFileOf(dockerfile))
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));

describe.each(DOCKERFILES)("%s", (dockerfile) => {
  const stages = parseDockerfile(dockerfile);
  const last = final(stages);

  it("passes dockerfile-utils' validator with every rule an error", () => {
    const problems = validate(read(dockerfile), EVERY_RULE_AN_ERROR).map(
      (d) => `line ${d.range.start.line + 1}: ${d.message}`,
    );
    expect(problems).toEqual([]);
  });

  it("pins every base image to a tag (or digest) and names earlier stages only", () => {
    const names = new Set<string>();
    for (const stage of stages) {
      if (!names.has(stage.image)) {
        expect(stage.tag ?? stage.digest, `${stage.image} has no tag`).toBeTruthy();
        expect(stage.tag, `${stage.image}:latest moves`).not.toBe("latest");
      }
      if (stage.name) names.add(stage.name);
      for (const copy of stage.steps.filter((s) => s.keyword === "COPY" && s.from !== null))
        expect(names.has(copy.from ?? ""), `COPY --from=${copy.from} (line ${copy.line})`).toBe(true);
    }
  });

  it("runs the final stage as a non-root user", () => {
    const user = stepsOf(last, "USER").at(-1)?.args[0];
    expect(user, "a USER in the final stage").toBeDefined();
    expect(["root", "0"]).not.toContain(user?.split(":")[0]);
  });

  it("starts an entry file that exists, in exec form", () => {
    const argv = cmdOf(last);
    expect(argv[0]).toBe("node");
    const entry = argv.find((a) => /\.(m?js|ts)$/.test(a));
    expect(entry, "the CMD names its entry file").toBeDefined();
    expect(exists(entry ?? ""), `${entry} exists`).toBe(true);
    expect(stepsOf(last, "ENTRYPOINT"), "no ENTRYPOINT standing before node").toEqual([]);
  });

  it("copies from the build context only files that exist and are not ignored", () => {
    const patterns = ignored(dockerfile);
    for (const stage of stages)
      for (const copy of stepsOf(stage, "COPY").filter((s) => s.from === null))
        for (const source of copy.args.slice(0, -1)) {
          expect(exists(source), `COPY ${source} (line ${copy.line})`).toBe(true);
          if (source !== ".") expect(patterns, `COPY ${source} is dockerignored`).not.toContain(source);
        }
    expect(stepsOf(last, "ADD"), "COPY, never ADD (no remote or auto-extracted sources)").toEqual([]);
  });

  it("runs project code only through npm scripts that CI runs too", () => {
    const { all, ci } = scriptsCiRuns();
    const runs = stages.flatMap((s) => stepsOf(s, "RUN"));
    expect(
      runs.some((r) => /\bnpm ci\b/.test(r.text)),
      "installs with npm ci from the lock",
    ).toBe(true);
    for (const run of runs) {
      for (const match of run.text.matchAll(/\bnpm run ([\w:-]+)/g)) {
        const script = match[1] ?? "";
        expect(all[script], `npm run ${script} (line ${run.line}) is a script`).toBeDefined();
        expect(ci.has(script), `npm run ${script} is part of npm test`).toBe(true);
      }
      expect(run.text, `line ${run.line}: project code through an npm script`).not.toMatch(
        /\b(npx|tsx)\b|\bnode\s+(--\S+\s+)*\S+\.(m?js|ts)\b/,
      );
    }
  });

  it("sets only settings that something reads", () => {
    const known = knownSettings();
    for (const stage of stages)
      for (const name of envOf(stage).keys())
        if (name.startsWith("AUTOPROG_")) expect(known.has(name), `ENV ${name}`).toBe(true);
  });

  it("has its own .dockerignore, the same as the others", () => {
    expect(read(ignoreFileOf(dockerfile))).toBe(read(ignoreFileOf(DOCKERFILES[0])));
    expect(ignored(dockerfile)).toEqual(expect.arrayContaining(["node_modules", ".git", "data", ".env"]));
  });
});

describe("the API image", () => {
  const last = final(parseDockerfile("docker/Dockerfile"));
  const env = envOf(last);

  it("listens on every interface, keeps its data in the volume and checks /healthz on its port", () => {
    expect(env.get("AUTOPROG_HOST")).toBe("0.0.0.0");
    expect(stepsOf(last, "VOLUME").map((v) => execForm(v.text))).toEqual([[env.get("AUTOPROG_DATA_DIR")]]);
    expect(stepsOf(last, "EXPOSE").map((e) => e.text)).toEqual([env.get("AUTOPROG_PORT")]);
    const checks = stepsOf(last, "HEALTHCHECK");
    expect(checks).toHaveLength(1);
    const argv = execForm(checks[0]?.text.replace(/^(--\S+\s+)*CMD\s+/, "") ?? "");
    expect(argv?.join(" ")).toContain(`http://127.0.0.1:${env.get("AUTOPROG_PORT")}/healthz`);
  });

  it("runs the server as `npm start` does", () => {
    const start = scriptsCiRuns().all.start ?? "";
    expect(`exec ${cmdOf(last).join(" ")}`).toBe(start);
  });
});

describe("the trainer images", () => {
  const lockedTfjs = (
    JSON.parse(read("package-lock.json")) as { packages: Record<string, { version?: string }> }
  ).packages["node_modules/@tensorflow/tfjs"]?.version;

  it.each([
    ["docker/Dockerfile.gpu", "tensorflow", "compute,utility"],
    ["docker/Dockerfile.webgpu", "webgpu", "compute,graphics,utility"],
  ])("%s runs the pull worker on %s", (dockerfile, backend, capabilities) => {
    const last = final(parseDockerfile(dockerfile));
    const argv = cmdOf(last);
    expect(argv.slice(1, 3)).toEqual(["src/cli/autoprog.mjs", "worker"]);
    expect(argv[argv.indexOf("--backend") + 1]).toBe(backend);
    expect(BACKEND_NAMES).toContain(backend);
    expect(envOf(last).get("NVIDIA_DRIVER_CAPABILITIES")).toBe(capabilities);
  });

  it("the CUDA image installs tfjs-node-gpu of the locked tfjs version, unsaved, on CUDA 11.2", () => {
    const stages = parseDockerfile("docker/Dockerfile.gpu");
    for (const stage of stages.filter((s) => s.image === "nvidia/cuda"))
      expect(stage.tag).toMatch(/^11\.2\.\d+-cudnn8-runtime-ubuntu20\.04$/);
    const installs = stages
      .flatMap((s) => stepsOf(s, "RUN"))
      .filter((r) => r.text.includes("@tensorflow/tfjs-node-gpu"));
    expect(installs).toHaveLength(1);
    expect(installs[0]?.text).toContain("--no-save");
    expect(installs[0]?.text).toContain(`@tensorflow/tfjs-node-gpu@${lockedTfjs}`);
  });

  it("the WebGPU image has the Vulkan loader and the GL vendor libraries", () => {
    const runs = final(parseDockerfile("docker/Dockerfile.webgpu")).steps.filter((s) => s.keyword === "RUN");
    const installed = runs.flatMap((r) => r.args);
    expect(installed).toEqual(expect.arrayContaining(["libvulkan1", "libglvnd0"]));
  });
});
