import type { components } from "../../client/index.ts";
import { compact, speedup } from "../format.ts";

type Plan = components["schemas"]["ExperimentPlan"];

/** `POST /v1/experiments/validate`'s answer: each arm's stage plan, its FLOPs per image against the full model, and what a run needs. */
export function PlanView({ plan }: { plan: Plan }) {
  return (
    <section class="panel" aria-labelledby="plan-title" data-testid="plan">
      <h2 id="plan-title">Plan</h2>
      <p data-testid="plan-precision">
        Precision: <strong>{plan.spec.training.precision}</strong>
        {plan.spec.training.precision === "mixed"
          ? " — f16 matmul inputs with f32 accumulation, fp32 master weights and dynamic loss scaling on the webgpu backend's compiled step; any other step trains in fp32 and its backend report says so"
          : " — fp32 throughout"}
      </p>
      {plan.arms.map((arm) => (
        <div key={arm.arm} class="table-wrap">
          <table aria-label={`Stage plan of arm ${arm.arm}`}>
            <caption>
              <strong>{arm.arm}</strong> ({arm.kind}): full model {compact(arm.flopsFull)} FLOPs/img, mean{" "}
              {compact(arm.flopsPerImageMean)}, FLOPs speed-up {speedup(arm.flopsSpeedup)}; a run needs about{" "}
              {compact(arm.cost.memory.bytes)}B of memory (this server allows{" "}
              {compact(plan.ceilings.maxRunBytes)}B) and {compact(arm.cost.flops.total)} FLOPs (allows{" "}
              {compact(plan.ceilings.maxRunFlops)})
            </caption>
            <thead>
              <tr>
                <th scope="col">Stage</th>
                <th scope="col">Epochs</th>
                <th scope="col">Depth</th>
                <th scope="col">Side</th>
                <th scope="col">Tokens</th>
                <th scope="col">FLOPs/img</th>
              </tr>
            </thead>
            <tbody>
              {arm.stages.map((s) => (
                <tr key={s.stage}>
                  <td>{s.stage}</td>
                  <td>
                    {s.startEpoch}–{s.startEpoch + s.epochs - 1}
                  </td>
                  {s.architecture ? (
                    <>
                      <td>
                        {s.architecture.depth}
                        {s.architecture.outlookers !== undefined && (
                          <span class="muted"> ({s.architecture.outlookers} outlookers)</span>
                        )}
                        {s.architecture.stageBlocks !== undefined && (
                          <span class="muted"> ({s.architecture.stageBlocks.join("+")} per stage)</span>
                        )}
                      </td>
                      <td>{s.architecture.side}</td>
                      <td>{s.architecture.tokens}</td>
                      <td>{compact(s.architecture.flopsPerImage)}</td>
                    </>
                  ) : (
                    <td colSpan={4} class="muted">
                      chosen by the search
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ))}
    </section>
  );
}
