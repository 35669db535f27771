import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * The root logger of a data-plane process: JSON lines to stderr (stdout is kept for the
 * machine-readable output of process entries). LOG_LEVEL picks the level; tests default to warn.
 */
export const rootLogger: Logger = pino(
  { level: process.env.LOG_LEVEL ?? (process.env.VITEST ? 'warn' : 'info'), base: { pid: process.pid } },
  pino.destination(2),
);

export function componentLogger(component: string, fields: Record<string, string> = {}): Logger {
  return rootLogger.child({ component, ...fields });
}
