import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { Copy, DockerfileParser } from "dockerfile-ast";

/** What the container tests read: the repository's own files, parsed without a Docker engine. */
export const ROOT = join(import.meta.dirname, "..", "..");
export const DOCKERFILES = [
  "docker/Dockerfile",
  "docker/Dockerfile.gpu",
  "docker/Dockerfile.webgpu",
] as const;

export const read = (path: string): string => readFileSync(join(ROOT, path), "utf8");

export interface Step {
  readonly keyword: string;
  /** The arguments as written, flags left out. */
  readonly text: string;
  readonly args: readonly string[];
  /** COPY --from=…: the stage or image it copies from. */
  readonly from: string | null;
  readonly line: number;
}

export interface Stage {
  readonly image: string;
  readonly tag: string | null;
  readonly digest: string | null;
  readonly name: string | null;
  readonly steps: readonly Step[];
}

/** A Dockerfile as its stages, each with its instructions (dockerfile-ast does the parsing). */
export function parseDockerfile(path: string): Stage[] {
  const stages: {
    image: string;
    tag: string | null;
    digest: string | null;
    name: string | null;
    steps: Step[];
  }[] = [];
  for (const instruction of DockerfileParser.parse(read(path)).getInstructions()) {
    const keyword = instruction.getKeyword();
    const args = instruction.getArguments().map((a) => a.getValue());
    if (keyword === "FROM") {
      const [image = "", as, name = null] = args;
      const [withoutDigest = "", digest = null] = image.split("@");
      const colon = withoutDigest.lastIndexOf(":");
      const tagged = colon > withoutDigest.lastIndexOf("/");
      stages.push({
        image: tagged ? withoutDigest.slice(0, colon) : withoutDigest,
        tag: tagged ? withoutDigest.slice(colon + 1) : null,
        digest,
        name: as?.toUpperCase() === "AS" ? name : null,
        steps: [],
      });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`${path}: ${keyword} before the first FROM`);
    stage.steps.push({
      keyword,
      text: instruction.getArgumentsContent() ?? "",
      args,
      from: instruction instanceof Copy ? (instruction.getFromFlag()?.getValue() ?? null) : null,
      line: instruction.getRange().start.line + 1,
    });
  }
  return stages;
}

/** An exec-form argument list (`["node", "x"]`), or null for the shell form. */
export function execForm(text: string): string[] | null {
  if (!text.trim().startsWith("[")) return null;
  const parsed: unknown = JSON.parse(text);
  return Array.isArray(parsed) && parsed.every((a) => typeof a === "string") ? parsed : null;
}

/** `NAME=value` pairs of an ENV step (the `ENV NAME value` legacy form is refused). */
export function envPairs(step: Step): [string, string][] {
  return step.args.map((arg) => {
    const eq = arg.indexOf("=");
    if (eq < 1) throw new Error(`line ${step.line}: ENV ${arg} is not NAME=value`);
    return [arg.slice(0, eq), arg.slice(eq + 1)];
  });
}

/**
 * Environment names something reads: every AUTOPROG_* the sources mention, plus the pull worker's
 * and the API's dispatch settings from the worker contract (issue 12), written on another branch.
 */
export function knownSettings(): Set<string> {
  const names = new Set(["AUTOPROG_API_URL", "AUTOPROG_API_KEY", "AUTOPROG_DISPATCH"]);
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.(ts|mjs)$/.test(entry.name))
        for (const match of read(path).matchAll(/\bAUTOPROG_[A-Z0-9_]+/g)) names.add(match[0]);
    }
  };
  walk("src");
  return names;
}

/** The scripts `npm test` runs through `npm run`, i.e. what CI (`npm ci && npm test`) runs. */
export function scriptsCiRuns(): { all: Record<string, string>; ci: Set<string> } {
  const all = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;
  const ci = new Set(["test"]);
  for (const match of (all.test ?? "").matchAll(/npm run ([\w:-]+)/g)) if (match[1]) ci.add(match[1]);
  return { all, ci };
}

export const exists = (path: string): boolean => existsSync(join(ROOT, path));
export const fromRoot = (path: string): string => relative(ROOT, path);
