import { type Logger, pino } from 'pino';

export type { Logger };

/** The operator's root logger: JSON lines to stderr; LOG_LEVEL picks the level, tests default to warn. */
export const rootLogger: Logger = pino(
  { level: process.env.LOG_LEVEL ?? (process.env.VITEST ? 'warn' : 'info'), base: { pid: process.pid } },
  pino.destination(2),
);

/** One child per component, with the volume / node / replica fields it is about. */
export function componentLogger(component: string, fields: Record<string, string> = {}): Logger {
  return rootLogger.child({ component, ...fields });
}
