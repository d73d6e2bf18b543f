/**
 * Runs `run` on the next turn of the event loop, after the I/O already waiting has been handled
 * (and after the writes of this turn have gone to their sockets): `setImmediate` where there is
 * one (Node, Workers with nodejs_compat), a zero timeout elsewhere.
 */
export const nextTurn: (run: () => void) => void =
  typeof setImmediate === "function" ? (run) => setImmediate(run) : (run) => setTimeout(run, 0);
