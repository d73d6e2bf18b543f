import { useRef, useState } from "preact/hooks";
import { ApiError, unwrap } from "../../client/client.ts";
import type { components } from "../../client/index.ts";
import { PlanView } from "../components/plan-view.tsx";
import { EXAMPLE_SPECS } from "../examples.ts";
import { errorText } from "../load.ts";
import { hrefOf, navigate } from "../router.ts";
import { useSession } from "../session.ts";

type SpecInput = components["schemas"]["ExperimentSpecInput"];
type Plan = components["schemas"]["ExperimentPlan"];
type FieldError = components["schemas"]["FieldError"];

const pretty = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/** `training.lr` → `/training/lr`: the RFC 6901 pointer a field error names. */
const pointerOf = (path: string) => `/${path.split(".").join("/")}`;

/**
 * The spec editor: start from an example, "Validate" asks `POST /v1/experiments/validate` for the stage plan and
 * FLOPs of each arm, "Submit" creates the experiment (with an Idempotency-Key, so a double click
 * makes one) and opens it. Field errors of the problem body are listed under the editor by
 * pointer; choosing one selects that field in the text.
 */
export function NewExperiment() {
  const { client } = useSession();
  const editor = useRef<HTMLTextAreaElement>(null);
  const [example, setExample] = useState(EXAMPLE_SPECS[0]?.file ?? "");
  const [text, setText] = useState(() => pretty(EXAMPLE_SPECS[0]?.spec ?? {}));
  const [plan, setPlan] = useState<Plan | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [fields, setFields] = useState<readonly FieldError[]>([]);
  const [busy, setBusy] = useState<"validate" | "submit" | null>(null);
  const idempotencyKey = useRef(crypto.randomUUID());

  const choose = (file: string) => {
    setExample(file);
    setText(pretty(EXAMPLE_SPECS.find((e) => e.file === file)?.spec ?? {}));
    setPlan(null);
    setProblem(null);
    setFields([]);
  };

  const send = async (mode: "validate" | "submit") => {
    let spec: SpecInput;
    try {
      spec = JSON.parse(text) as SpecInput; // the server validates every field
    } catch (error) {
      setProblem(`The spec is not JSON: ${errorText(error)}`);
      setFields([]);
      return;
    }
    setBusy(mode);
    setProblem(null);
    setFields([]);
    try {
      if (mode === "validate") {
        const result = await client.POST("/v1/experiments/validate", { body: spec });
        setPlan(unwrap(result));
      } else {
        const result = await client.POST("/v1/experiments", {
          params: { header: { "Idempotency-Key": idempotencyKey.current } },
          body: spec,
        });
        const created = unwrap(result);
        navigate(hrefOf({ page: "experiment", id: created.id }));
      }
    } catch (error) {
      setPlan(null);
      setProblem(error instanceof ApiError && error.problem ? error.problem.title : errorText(error));
      setFields(error instanceof ApiError ? (error.problem?.errors ?? []) : []);
      if (error instanceof ApiError && error.problem?.detail && !error.problem.errors?.length) {
        setProblem(`${error.problem.title}: ${error.problem.detail}`);
      }
    } finally {
      setBusy(null);
    }
  };

  const showField = (path: string) => {
    const area = editor.current;
    const key = path.split(".").at(-1);
    if (!area || !key) return;
    const at = text.indexOf(`"${key}"`);
    area.focus();
    if (at >= 0) area.setSelectionRange(at, at + key.length + 2);
  };

  return (
    <main>
      <h1>New experiment</h1>
      <div class="field">
        <label for="example">Start from an example</label>
        <select id="example" value={example} onChange={(e) => choose(e.currentTarget.value)}>
          {EXAMPLE_SPECS.map((e) => (
            <option key={e.file} value={e.file}>
              {e.file}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="spec">Spec (JSON)</label>
        <textarea
          id="spec"
          ref={editor}
          rows={18}
          spellcheck={false}
          value={text}
          aria-invalid={problem ? "true" : undefined}
          aria-describedby={problem ? "spec-errors" : undefined}
          onInput={(e) => {
            setText(e.currentTarget.value);
            idempotencyKey.current = crypto.randomUUID();
          }}
        />
      </div>
      {problem && (
        <div id="spec-errors" class="error" role="alert" data-testid="spec-errors">
          <p>{problem}</p>
          {fields.length > 0 && (
            <ul>
              {fields.map((f) => (
                <li key={`${f.location}:${f.path}`}>
                  <button type="button" class="link" onClick={() => showField(f.path)}>
                    <code>{f.location === "body" ? pointerOf(f.path) : `${f.location} ${f.path}`}</code>
                  </button>{" "}
                  {f.message}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      <div class="actions">
        <button type="button" onClick={() => void send("validate")} disabled={busy !== null}>
          {busy === "validate" ? "Validating…" : "Validate"}
        </button>
        <button type="button" class="primary" onClick={() => void send("submit")} disabled={busy !== null}>
          {busy === "submit" ? "Submitting…" : "Submit"}
        </button>
      </div>
      {plan && <PlanView plan={plan} />}
    </main>
  );
}
