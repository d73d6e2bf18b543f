import { useState } from "preact/hooks";
import { ApiError, createAutoprogClient, unwrap } from "../../client/client.ts";
import { errorText } from "../load.ts";

/**
 * Sign-in with an API key (`ap_…`): checked with one request before it is kept, so a wrong key
 * is told here rather than on the first page.
 */
export function SignIn({ onSignedIn, refused }: { onSignedIn: (key: string) => void; refused: boolean }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(
    refused
      ? "The server refused the key (401): it is wrong or was revoked. Sign in with another key."
      : null,
  );
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const candidate = key.trim();
    setBusy(true);
    setError(null);
    try {
      const client = createAutoprogClient({ api: location.origin, key: candidate });
      unwrap(await client.GET("/v1/experiments", { params: { query: { limit: 1 } } }));
      onSignedIn(candidate);
    } catch (caught) {
      setError(
        caught instanceof ApiError && caught.status === 401
          ? "The server refused this key (401): check it and try again."
          : errorText(caught),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in">
      <h1>autoprog</h1>
      <form onSubmit={submit} aria-describedby="sign-in-help">
        <label for="api-key">API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autocomplete="off"
          spellcheck={false}
          placeholder="ap_…"
          required
          value={key}
          aria-invalid={error ? "true" : undefined}
          aria-describedby={error ? "sign-in-error" : undefined}
          onInput={(e) => setKey(e.currentTarget.value)}
        />
        <button type="submit" disabled={busy || key.trim() === ""}>
          {busy ? "Checking…" : "Sign in"}
        </button>
        {error && (
          <p id="sign-in-error" class="error" role="alert">
            {error}
          </p>
        )}
      </form>
      <p id="sign-in-help" class="muted">
        The key stays in this tab (sessionStorage) and is sent as <code>Authorization: Bearer</code> with
        every request. The first admin key is in <code>data/admin-key</code>.
      </p>
    </main>
  );
}
