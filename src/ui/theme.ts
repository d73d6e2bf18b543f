import { useEffect, useState } from "preact/hooks";

/**
 * The dashboard follows the system's colour scheme (styles.css switches its colours with
 * `prefers-color-scheme`); the charts draw on a canvas, so they read the colours again when the
 * scheme changes.
 */
export type ColorScheme = "light" | "dark";

const DARK = "(prefers-color-scheme: dark)";

export const currentScheme = (): ColorScheme => (matchMedia(DARK).matches ? "dark" : "light");

export function useColorScheme(): ColorScheme {
  const [scheme, setScheme] = useState(currentScheme);
  useEffect(() => {
    const query = matchMedia(DARK);
    const update = () => setScheme(query.matches ? "dark" : "light");
    query.addEventListener("change", update);
    return () => query.removeEventListener("change", update);
  }, []);
  return scheme;
}
