import type { ComponentChildren } from "preact";
import { hrefOf, onLinkClick, type Route } from "../router.ts";

/** A link to a dashboard page that navigates without reloading. */
export function Link({ to, children, label }: { to: Route; children: ComponentChildren; label?: string }) {
  return (
    <a href={hrefOf(to)} onClick={onLinkClick} aria-label={label}>
      {children}
    </a>
  );
}
