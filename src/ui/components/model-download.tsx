import { useState } from "preact/hooks";
import { unwrap } from "../../client/client.ts";
import { downloadBlob } from "../download.ts";
import { errorText } from "../load.ts";
import { useSession } from "../session.ts";

/**
 * The run's trained weights as a safetensors file (GET /v1/runs/{id}/model): the online model or
 * an EMA copy. Fetched with the session's key (a plain link would send none) and handed to the
 * browser as a download.
 */
export function ModelDownload({
  runId,
  emas,
  checkpointEpoch,
}: {
  runId: string;
  emas: readonly string[];
  /** The newest checkpoint's epoch; null while the run has none. */
  checkpointEpoch: number | null;
}) {
  const { client } = useSession();
  const [weights, setWeights] = useState("online");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const download = async () => {
    setBusy(true);
    setError(null);
    try {
      const result = await client.GET("/v1/runs/{id}/model", {
        params: { path: { id: runId }, query: { weights } },
        parseAs: "blob",
      });
      downloadBlob(`${runId}-${weights}.safetensors`, unwrap(result));
    } catch (caught) {
      setError(errorText(caught));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="panel" aria-labelledby="model-title">
      <h2 id="model-title">Model</h2>
      <p class="muted">
        {checkpointEpoch === null
          ? "No checkpoint yet: the weights can be downloaded once the first epoch is saved."
          : `The weights of the newest checkpoint (epoch ${checkpointEpoch}) as safetensors; see docs/model-files.md.`}
      </p>
      <div class="title-row">
        <label>
          Weights{" "}
          <select
            value={weights}
            onChange={(e) => setWeights((e.target as HTMLSelectElement).value)}
            data-testid="model-weights"
          >
            <option value="online">online</option>
            {emas.map((name) => (
              <option key={name} value={`ema-${name}`}>
                EMA {name}
              </option>
            ))}
          </select>
        </label>
        <button
          type="button"
          onClick={() => void download()}
          disabled={busy || checkpointEpoch === null}
          data-testid="model-download"
        >
          {busy ? "Downloading…" : "Download model"}
        </button>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
