/**
 * Validation of cron schedules as Longhorn accepts them (robfig/cron's ParseStandard): five
 * fields (minute hour day-of-month month day-of-week), or a descriptor such as `@daily` or
 * `@every 1h30m`.
 */

export type CronCheck = { ok: true } | { ok: false; error: string };

interface Field {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] as const;
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;

const FIELDS: readonly Field[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS },
  { name: 'day of week', min: 0, max: 6, names: DAYS },
];

const DESCRIPTORS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

/** A Go duration: `90s`, `1h30m`, `1.5h`. */
const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

const EXAMPLE = 'e.g. "0 2 * * *" (02:00 every day) or "@every 6h"';

function fail(expression: string, problem: string): CronCheck {
  return { ok: false, error: `cron "${expression}": ${problem}; write five fields, ${EXAMPLE}` };
}

/** Checks a cron schedule; the error says which field is wrong and how. */
export function validateCron(expression: string): CronCheck {
  let spec = expression.trim();
  const tz = /^(CRON_TZ|TZ)=\S+\s+/.exec(spec);
  if (tz) spec = spec.slice(tz[0].length);
  if (spec === '') return fail(expression, 'empty schedule');

  if (spec.startsWith('@')) {
    if (DESCRIPTORS.includes(spec.toLowerCase())) return { ok: true };
    const every = /^@every\s+(\S+)$/i.exec(spec);
    if (every?.[1] !== undefined) {
      return GO_DURATION.test(every[1])
        ? { ok: true }
        : fail(expression, `"${every[1]}" is not a duration such as 90s or 1h30m`);
    }
    return fail(expression, `unknown descriptor; use one of ${DESCRIPTORS.join(', ')} or @every <duration>`);
  }

  const parts = spec.split(/\s+/);
  if (parts.length !== FIELDS.length) return fail(expression, `${parts.length} fields instead of 5`);
  for (const [i, field] of FIELDS.entries()) {
    const problem = fieldProblem(parts[i] ?? '', field, i >= 2);
    if (problem !== undefined) return fail(expression, `${field.name} ${problem}`);
  }
  return { ok: true };
}

function fieldProblem(text: string, field: Field, allowQuestionMark: boolean): string | undefined {
  for (const item of text.split(',')) {
    const [range = '', step, extra] = item.split('/');
    if (extra !== undefined) return `"${item}" has more than one "/"`;
    if (step !== undefined && !/^\d+$/.test(step)) return `step "${step}" is not a number`;
    if (step !== undefined && Number(step) === 0) return 'step 0 never fires';
    if (range === '*' || (allowQuestionMark && range === '?')) continue;
    const [lowText = '', highText, more] = range.split('-');
    if (more !== undefined) return `"${range}" is not a range a-b`;
    const low = fieldValue(lowText, field);
    if (low === undefined) return `"${lowText}" is not a value from ${describe(field)}`;
    if (highText === undefined) continue;
    const high = fieldValue(highText, field);
    if (high === undefined) return `"${highText}" is not a value from ${describe(field)}`;
    if (high < low) return `range ${range} runs backwards`;
  }
  return undefined;
}

function fieldValue(text: string, field: Field): number | undefined {
  const byName = field.names?.indexOf(text.toUpperCase() as never) ?? -1;
  if (byName >= 0) return byName + field.min;
  if (!/^\d+$/.test(text)) return undefined;
  const value = Number(text);
  return value >= field.min && value <= field.max ? value : undefined;
}

function describe(field: Field): string {
  const range = `${field.min} to ${field.max}`;
  return field.names ? `${range} or ${field.names[0]}-${field.names[field.names.length - 1]}` : range;
}
