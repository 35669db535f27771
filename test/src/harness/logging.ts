import { pino } from 'pino';

const root = pino(
  { name: 'harness', level: process.env.LONGHORN_TS_LOG_LEVEL ?? 'warn' },
  pino.destination({ fd: 2, sync: true }),
);

/** One child logger per component of the harness. */
export function harnessLogger(component: string, fields: Record<string, unknown> = {}): pino.Logger {
  return root.child({ component, ...fields });
}
