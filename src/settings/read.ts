import { z } from "zod";
import { SETTINGS, type Setting, type SettingName, type Unset } from "./table.ts";

/**
 * Reads the settings of the table (src/settings/table.ts) from a runtime's source: Node's
 * environment by the `AUTOPROG_*` names, the Workers bindings by theirs. A value that does not
 * parse fails the whole read with a SettingsError naming the variable or binding.
 */
export class SettingsError extends Error {
  override readonly name = "SettingsError";
}

type Table = typeof SETTINGS;
type Output<E extends Setting> = z.output<E["schema"]>;
/** A setting whose default is `unset(…)` reads as undefined when its variable is not set. */
type ValueOf<E extends Setting, D> = D extends Unset ? Output<E> | undefined : Output<E>;

/** Every setting as Node reads it, in the variables' own units. */
export type NodeSettingValues = { readonly [K in SettingName]: ValueOf<Table[K], Table[K]["default"]> };

type WorkersDefault<E> = E extends { workers: { default: infer D } }
  ? D
  : E extends Setting
    ? E["default"]
    : never;
type WorkersKeyOf<Kind extends "var" | "secret"> = {
  [K in SettingName]: Table[K] extends { workers: { kind: Kind } } ? K : never;
}[SettingName];

/** The settings Workers reads from `[vars]`. */
export type WorkersSettingValues = {
  readonly [K in WorkersKeyOf<"var">]: ValueOf<Table[K], WorkersDefault<Table[K]>>;
};

/** The name of every Workers binding that carries a setting. */
export type WorkersBindingName = {
  [K in SettingName]: Table[K] extends { workers: { binding: infer B extends string } } ? B : never;
}[SettingName];

/** The Workers bindings of the settings, each a string when set. */
export type WorkersSettingBindings = { readonly [B in WorkersBindingName]?: string };

interface Reading {
  readonly key: SettingName;
  /** The variable or binding it is read from. */
  readonly name: string;
  readonly schema: z.ZodType;
  readonly default: string | Unset;
}

function read(readings: readonly Reading[], source: object): Record<string, unknown> {
  const shape = Object.fromEntries(
    readings.map((r) => [
      r.name,
      typeof r.default === "string" ? r.schema.prefault(r.default) : r.schema.optional(),
    ]),
  );
  const parsed = z.object(shape).safeParse(source);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new SettingsError(`invalid settings: ${problems}`);
  }
  const values: Record<string, unknown> = parsed.data;
  return Object.fromEntries(readings.map((r) => [r.key, values[r.name]]));
}

const ENTRIES = Object.entries(SETTINGS) as [SettingName, Setting][];

export function readNodeSettings(env: Readonly<Record<string, string | undefined>>): NodeSettingValues {
  const readings = ENTRIES.map(([key, entry]) => ({ key, name: entry.env, ...entry }));
  // The object has one value per table entry, parsed by that entry's schema: the type above.
  return read(readings, env) as NodeSettingValues;
}

export function readWorkersSettings(bindings: WorkersSettingBindings): WorkersSettingValues {
  const readings = ENTRIES.flatMap(([key, { workers, ...entry }]) =>
    workers?.kind === "var"
      ? [
          {
            key,
            name: workers.binding,
            schema: workers.schema ?? entry.schema,
            default: workers.default ?? entry.default,
          },
        ]
      : [],
  );
  // As above: one value per `[vars]` entry of the table.
  return read(readings, bindings) as WorkersSettingValues;
}

/**
 * A Workers secret, as set (the caller checks it: an invalid bootstrap key answers 503, not a
 * failed start, so the operator can still reach the service).
 */
export function workersSecret(
  bindings: WorkersSettingBindings,
  key: WorkersKeyOf<"secret">,
): string | undefined {
  return bindings[SETTINGS[key].workers.binding];
}

/** The binding a Workers setting is read from (for messages that name it). */
export const workersBindingOf = (key: WorkersKeyOf<"var" | "secret">): WorkersBindingName =>
  SETTINGS[key].workers.binding;
