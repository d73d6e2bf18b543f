import { useEffect, useState } from "preact/hooks";

/**
 * A history-API router for the few pages under /ui: the server answers the same page for every
 * /ui path, so a reload or a shared link lands on the right page.
 */
export type Route =
  | { readonly page: "experiments" }
  | { readonly page: "new" }
  | { readonly page: "experiment"; readonly id: string }
  | { readonly page: "run"; readonly id: string }
  | { readonly page: "runs" }
  | { readonly page: "compare"; readonly runs?: readonly string[] }
  | { readonly page: "keys" }
  | { readonly page: "not-found"; readonly path: string };

export const BASE = "/ui";

export function parseRoute(pathname: string): Route {
  const path = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname;
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0 || (parts.length === 1 && parts[0] === "experiments"))
    return { page: "experiments" };
  if (parts.length === 1 && parts[0] === "new") return { page: "new" };
  if (parts.length === 1 && parts[0] === "runs") return { page: "runs" };
  if (parts.length === 1 && parts[0] === "compare") return { page: "compare" };
  if (parts.length === 1 && parts[0] === "keys") return { page: "keys" };
  if (parts.length === 2 && parts[0] === "experiments" && parts[1])
    return { page: "experiment", id: parts[1] };
  if (parts.length === 2 && parts[0] === "runs" && parts[1]) return { page: "run", id: parts[1] };
  return { page: "not-found", path: pathname };
}

export const hrefOf = (route: Route): string => {
  switch (route.page) {
    case "experiments":
      return `${BASE}/`;
    case "new":
      return `${BASE}/new`;
    case "experiment":
      return `${BASE}/experiments/${encodeURIComponent(route.id)}`;
    case "run":
      return `${BASE}/runs/${encodeURIComponent(route.id)}`;
    case "runs":
      return `${BASE}/runs`;
    case "compare":
      return route.runs?.length
        ? `${BASE}/compare?runs=${route.runs.map(encodeURIComponent).join(",")}`
        : `${BASE}/compare`;
    case "keys":
      return `${BASE}/keys`;
    case "not-found":
      return route.path;
  }
};

const NAVIGATED = "autoprog:navigate";

export function navigate(href: string): void {
  history.pushState(null, "", href);
  window.dispatchEvent(new Event(NAVIGATED));
  window.scrollTo(0, 0);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.pathname));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.pathname));
    window.addEventListener("popstate", update);
    window.addEventListener(NAVIGATED, update);
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener(NAVIGATED, update);
    };
  }, []);
  return route;
}

/** A link that navigates in the page (plain clicks) and stays a real link (new tab, copy). */
export function onLinkClick(event: MouseEvent): void {
  const anchor = event.currentTarget as HTMLAnchorElement;
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(anchor.getAttribute("href") ?? `${BASE}/`);
}
