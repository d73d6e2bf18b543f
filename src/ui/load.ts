import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError, problemText } from "../client/client.ts";

export interface Loaded<T> {
  readonly data: T | undefined;
  readonly error: string | null;
  /** The HTTP status of the failed request (404: the thing does not exist), null otherwise. */
  readonly errorStatus: number | null;
  readonly loading: boolean;
  readonly reload: () => void;
}

/** What a person reads when a request fails: the problem's title, detail and fields. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.problem ? problemText(error.problem) : error.message;
  return error instanceof Error ? error.message : String(error);
}

/**
 * Loads once per change of `deps`, and again on `reload()` or every `refreshMs` while
 * `keepRefreshing(data)` holds (an experiment that is still training).
 */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: readonly unknown[],
  refresh?: { readonly everyMs: number; readonly while: (data: T) => boolean },
): Loaded<T> {
  const [state, setState] = useState<{
    data: T | undefined;
    error: string | null;
    errorStatus: number | null;
    loading: boolean;
  }>({ data: undefined, error: null, errorStatus: null, loading: true });
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  const refreshRef = useRef(refresh);
  refreshRef.current = refresh;
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => {
        if (!live) return;
        setState({ data, error: null, errorStatus: null, loading: false });
        const again = refreshRef.current;
        if (again?.while(data)) timer = setTimeout(() => setTick((t) => t + 1), again.everyMs);
      },
      (error: unknown) =>
        live &&
        setState((s) => ({
          ...s,
          error: errorText(error),
          errorStatus: error instanceof ApiError ? error.status : null,
          loading: false,
        })),
    );
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [...deps, tick]);
  return { ...state, reload };
}
