import { describe, expect, it } from 'vitest';
import { validateCron } from '../src/cron.js';

describe('validateCron', () => {
  it.each([
    '* * * * *',
    '0 2 * * *',
    '0 0 */7 * *',
    '*/15 0-6,22-23 1,15 JAN-MAR mon-fri',
    '0 0 ? * SUN',
    '@daily',
    '@every 1h30m',
    'CRON_TZ=Europe/Berlin 0 3 * * *',
  ])('accepts %s', (expression) => {
    expect(validateCron(expression)).toEqual({ ok: true });
  });

  it.each([
    ['', 'empty schedule'],
    ['* * * *', '4 fields instead of 5'],
    ['60 * * * *', 'minute "60" is not a value from 0 to 59'],
    ['0 24 * * *', 'hour "24" is not a value from 0 to 23'],
    ['0 0 0 * *', 'day of month "0" is not a value from 1 to 31'],
    ['0 0 * FOO *', 'month "FOO" is not a value from 1 to 12 or JAN-DEC'],
    ['0 0 * * 7', 'day of week "7" is not a value from 0 to 6 or SUN-SAT'],
    ['*/0 * * * *', 'minute step 0 never fires'],
    ['5-1 * * * *', 'minute range 5-1 runs backwards'],
    ['@sometimes', 'unknown descriptor'],
    ['@every soon', '"soon" is not a duration'],
  ])('refuses %j: %s', (expression, problem) => {
    const check = validateCron(expression);
    expect(check.ok).toBe(false);
    if (!check.ok) {
      expect(check.error).toContain(problem);
      expect(check.error).toContain('write five fields');
    }
  });
});
