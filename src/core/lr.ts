/**
 * One global learning-rate curve for the whole run (growth never restarts it):
 * linear warm-up to the peak, then cosine decay to the floor.
 */
export interface LrSchedule {
  readonly peak: number;
  readonly floor: number;
  readonly warmupSteps: number;
  readonly totalSteps: number;
}

export function lrAt(schedule: LrSchedule, step: number): number {
  const { peak, floor, warmupSteps, totalSteps } = schedule;
  if (step < warmupSteps) return (peak * (step + 1)) / warmupSteps;
  const decaySteps = Math.max(1, totalSteps - warmupSteps);
  const progress = Math.min(1, (step - warmupSteps) / decaySteps);
  return floor + 0.5 * (peak - floor) * (1 + Math.cos(Math.PI * progress));
}
