import type { CallContext } from '../rpc/edge.js';

/** Time left for a wait: the caller's deadline less a margin to answer in, else the default. */
export function budget(ctx: CallContext, fallbackMs: number): number {
  if (ctx.deadline === undefined) return fallbackMs;
  return Math.max(200, Math.min(fallbackMs, ctx.deadline - Date.now() - 1_000));
}
