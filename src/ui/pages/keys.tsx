import { useState } from "preact/hooks";
import { unwrap } from "../../client/client.ts";
import type { components } from "../../client/index.ts";
import { dateTime } from "../format.ts";
import { errorText, useLoad } from "../load.ts";
import { useSession } from "../session.ts";

type ApiKey = components["schemas"]["ApiKey"];
type CreatedKey = components["schemas"]["CreatedApiKey"];
type Role = components["schemas"]["CreateApiKey"]["role"];

const ROLES: readonly Role[] = ["member", "admin", "worker"];

/**
 * API keys, for admin and operator keys (`/v1/keys`): the keys the caller manages, a form that
 * creates one (its secret shown once) and a revoke button per key. An operator sees every
 * project's keys and may narrow the list to one project; a member key is told it cannot manage keys.
 */
export function KeysPage() {
  const { client } = useSession();
  const [project, setProject] = useState("");
  const keys = useLoad(
    () =>
      client
        .GET("/v1/keys", { params: { query: project ? { project } : {} } })
        .then(unwrap)
        .then((page) => page.items),
    [project],
  );
  const [created, setCreated] = useState<CreatedKey | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("member");
  const [newProject, setNewProject] = useState("");
  // The projects an operator's list spans, kept while the list is narrowed to one of them.
  const [projects, setProjects] = useState<readonly string[]>([]);
  const seen = [...new Set((keys.data ?? []).map((k) => k.project))];
  if (!project && seen.join() !== projects.join()) setProjects(seen);

  if (keys.errorStatus === 403) {
    return (
      <main>
        <h1>API keys</h1>
        <p data-testid="keys-forbidden">
          This key cannot manage keys: keys are managed with an <code>admin</code> key (its own project's) or
          the operator's key (every project's).
        </p>
      </main>
    );
  }

  const create = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setActionError(null);
    setCreated(null);
    try {
      const body = { name: name.trim(), role, ...(newProject.trim() ? { project: newProject.trim() } : {}) };
      setCreated(unwrap(await client.POST("/v1/keys", { body })));
      setName("");
      keys.reload();
    } catch (caught) {
      setActionError(errorText(caught));
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (key: ApiKey) => {
    setActionError(null);
    try {
      unwrap(await client.DELETE("/v1/keys/{id}", { params: { path: { id: key.id } } }));
      keys.reload();
    } catch (caught) {
      setActionError(errorText(caught));
    }
  };

  return (
    <main>
      <h1>API keys</h1>
      {(keys.error || actionError) && (
        <p class="error" role="alert">
          {actionError ?? keys.error}
        </p>
      )}
      {projects.length > 1 && (
        <div class="field inline">
          <label for="key-project">Project</label>
          <select id="key-project" value={project} onChange={(e) => setProject(e.currentTarget.value)}>
            <option value="">every project</option>
            {projects.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </div>
      )}
      <div class="table-wrap">
        <table aria-label="API keys" aria-busy={keys.loading} data-testid="keys-table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Project</th>
              <th scope="col">Role</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">State</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(keys.data ?? []).map((k) => (
              <tr key={k.id} data-testid="key-row" data-name={k.name}>
                <td>
                  {k.name}
                  <div class="muted mono">{k.id}</div>
                </td>
                <td>{k.project}</td>
                <td>{k.role}</td>
                <td>{dateTime(k.createdAt)}</td>
                <td>{k.lastUsedAt ? dateTime(k.lastUsedAt) : "never"}</td>
                <td>
                  <span class={`chip ${k.revokedAt ? "state-failed" : "state-completed"}`}>
                    {k.revokedAt ? "revoked" : "active"}
                  </span>
                </td>
                <td>
                  <button
                    type="button"
                    class="danger small"
                    disabled={k.revokedAt !== null || k.role === "operator"}
                    aria-label={`Revoke key ${k.name}`}
                    onClick={() => void revoke(k)}
                  >
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <section class="panel" aria-labelledby="new-key-title">
        <h2 id="new-key-title">New key</h2>
        <form class="key-form" onSubmit={create}>
          <div class="field">
            <label for="key-name">Name</label>
            <input
              id="key-name"
              required
              maxLength={100}
              value={name}
              onInput={(e) => setName(e.currentTarget.value)}
            />
          </div>
          <div class="field">
            <label for="key-role">Role</label>
            <select id="key-role" value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="key-new-project">Project (operator only; empty: this key's)</label>
            <input
              id="key-new-project"
              value={newProject}
              spellcheck={false}
              onInput={(e) => setNewProject(e.currentTarget.value)}
            />
          </div>
          <button type="submit" class="primary" disabled={busy || name.trim() === ""}>
            {busy ? "Creating…" : "Create key"}
          </button>
        </form>
        {created && (
          <div class="created-key" role="status" data-testid="created-key">
            <p>
              Key <strong>{created.name}</strong> ({created.role}, project {created.project}). Copy it now: it
              is shown this once and stored only as a hash.
            </p>
            <code class="secret">{created.key}</code>
          </div>
        )}
      </section>
    </main>
  );
}
