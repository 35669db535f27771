import { type Logger, pino } from 'pino';

/** The extender's root logger (stderr, so stdout carries only the ready line). */
export function extenderLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ name: 'scheduler-extender', level }, pino.destination(2));
}
