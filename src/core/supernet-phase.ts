/**
 * Where a searched stage's supernet phase lies, in optimizer steps (autoprog-spec §5.3). The
 * paper spends 2 of a stage's 25 epochs on the supernet and scores the candidates during the
 * second; at our scale a stage is 1–3 epochs, so a whole epoch was half the stage. The phase is
 * therefore a fraction of the stage's steps and may end inside an epoch:
 *
 *   steps = min(stageSteps, max(minSteps, round(fraction · stageSteps)))
 *
 * and the candidates are scored over its second half. `supernetEpochs` (the earlier option)
 * still works: that many whole epochs, scored over the last one.
 */

export interface SupernetPhase {
  /** Global step of the phase's first step. */
  readonly startStep: number;
  /** Global step after its last step: the search finishes before this step runs. */
  readonly endStep: number;
  /** Global step where the scoring window (the measurement points) begins. */
  readonly scoreFromStep: number;
}

export interface PhaseOptions {
  readonly stageStartStep: number;
  readonly stageSteps: number;
  readonly stepsPerEpoch: number;
  /** Whole epochs (the earlier option); when set it wins over the fraction. */
  readonly supernetEpochs?: number | undefined;
  readonly fraction: number;
  readonly minSteps: number;
}

export function supernetPhase(options: PhaseOptions): SupernetPhase {
  const { stageStartStep: start, stageSteps, stepsPerEpoch } = options;
  if (options.supernetEpochs !== undefined) {
    const steps = Math.min(stageSteps, options.supernetEpochs * stepsPerEpoch);
    return {
      startStep: start,
      endStep: start + steps,
      scoreFromStep: start + Math.max(0, steps - stepsPerEpoch),
    };
  }
  const steps = Math.min(stageSteps, Math.max(options.minSteps, Math.round(options.fraction * stageSteps)));
  return { startStep: start, endStep: start + steps, scoreFromStep: start + Math.floor(steps / 2) };
}

/**
 * The global steps before which every candidate's loss is measured: `points` evenly spaced over
 * the scoring window, its start and its end included (one point: the end).
 */
export function measurementPoints(phase: SupernetPhase, points: number): number[] {
  const span = phase.endStep - phase.scoreFromStep;
  if (points <= 1) return [phase.endStep];
  const steps = Array.from(
    { length: points },
    (_, i) => phase.scoreFromStep + Math.round((i * span) / (points - 1)),
  );
  return [...new Set(steps)];
}

/**
 * The hooks of one epoch: points as epoch-relative step indices b ("before step b"; b = the
 * epoch's step count means after its last step). A point on an epoch boundary belongs to the
 * epoch it starts, except the phase's end, which belongs to the epoch that ran its last step.
 */
export function epochPoints(
  globalPoints: readonly number[],
  epochStartStep: number,
  epochSteps: number,
  endStep: number,
): number[] {
  return globalPoints
    .map((g) => g - epochStartStep)
    .filter((b, i) => (globalPoints[i] === endStep ? b > 0 && b <= epochSteps : b >= 0 && b < epochSteps));
}
