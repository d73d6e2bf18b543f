import { Link } from "./link.tsx";

/** A page whose experiment or run does not exist (or is another project's): said plainly, nothing to press. */
export function NotFound({ what, id }: { what: "run" | "experiment"; id: string }) {
  return (
    <main data-testid="not-found">
      <h1>{what === "run" ? "Run" : "Experiment"} not found</h1>
      <p>
        No {what} <code>{id}</code> in this project: it never existed, was deleted, or belongs to another
        project. <Link to={{ page: "experiments" }}>Experiments</Link>
      </p>
    </main>
  );
}
