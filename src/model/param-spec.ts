/**
 * How one parameter is shaped and initialised. Its own file so that the ViT's and VOLO's
 * parameter lists (params.ts, volo-params.ts) both name it without importing each other.
 */
export type Init = "truncNormal" | "zeros" | "ones";

export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: Init;
  /** Decoupled weight decay applies to matrices only (not biases, norms, position table, cls token). */
  readonly decay: boolean;
}
