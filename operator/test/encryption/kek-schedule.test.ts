import {
  KEK_ROTATION_INTERVAL_ANNOTATION,
  KEK_ROTATION_RESULT_ANNOTATION,
  KEK_ROTATION_SCHEDULED_RESULT_ANNOTATION,
} from '@longhorn-ts/api';
import { describe, expect, it } from 'vitest';
import { kekSchedule } from '../../src/encryption/kek-schedule.js';

const CREATED = '2026-12-01T00:00:00Z';
const T0 = Date.parse(CREATED);
const H = 3_600_000;

const result = (doneAt: string, error = '') =>
  JSON.stringify({ request: 'r', from: 'kek-a', to: error ? '' : 'kek-b', error, doneAt });

describe('kekSchedule', () => {
  it('does nothing without the annotation', () => {
    expect(kekSchedule(undefined, CREATED, T0)).toEqual({ kind: 'none' });
    expect(kekSchedule({ [KEK_ROTATION_INTERVAL_ANNOTATION]: '  ' }, CREATED, T0)).toEqual({ kind: 'none' });
  });

  it('counts the first interval from the creation', () => {
    const a = { [KEK_ROTATION_INTERVAL_ANNOTATION]: '24h' };
    expect(kekSchedule(a, CREATED, T0 + 23 * H)).toEqual({ kind: 'later', inMs: H });
    expect(kekSchedule(a, CREATED, T0 + 25 * H)).toEqual({
      kind: 'due',
      token: 'scheduled-2026-12-02T00:00:00.000Z',
    });
  });

  it('counts later ones from the last answer and gives each its own token', () => {
    const ok = {
      [KEK_ROTATION_INTERVAL_ANNOTATION]: '1h',
      [KEK_ROTATION_RESULT_ANNOTATION]: result('2026-12-01T05:00:00Z'),
    };
    expect(kekSchedule(ok, CREATED, T0 + 5.5 * H)).toEqual({ kind: 'later', inMs: 0.5 * H });
    expect(kekSchedule(ok, CREATED, T0 + 6 * H)).toEqual({
      kind: 'due',
      token: 'scheduled-2026-12-01T06:00:00.000Z',
    });
  });

  it('counts from the newer of the on-demand and the scheduled answers', () => {
    const both = {
      [KEK_ROTATION_INTERVAL_ANNOTATION]: '1h',
      [KEK_ROTATION_SCHEDULED_RESULT_ANNOTATION]: result('2026-12-01T05:00:00Z'),
      [KEK_ROTATION_RESULT_ANNOTATION]: result('2026-12-01T05:30:00Z'),
    };
    expect(kekSchedule(both, CREATED, T0 + 6 * H)).toEqual({ kind: 'later', inMs: 0.5 * H });
    const scheduledNewer = {
      ...both,
      [KEK_ROTATION_SCHEDULED_RESULT_ANNOTATION]: result('2026-12-01T06:00:00Z'),
    };
    expect(kekSchedule(scheduledNewer, CREATED, T0 + 6.5 * H)).toEqual({ kind: 'later', inMs: 0.5 * H });
  });

  it('tries a failed rotation again after 5 minutes, not a whole interval', () => {
    const failed = {
      [KEK_ROTATION_INTERVAL_ANNOTATION]: '720h',
      [KEK_ROTATION_RESULT_ANNOTATION]: result('2026-12-01T05:00:00Z', 'wrong passphrase'),
    };
    expect(kekSchedule(failed, CREATED, T0 + 5 * H + 60_000)).toEqual({ kind: 'later', inMs: 240_000 });
    expect(kekSchedule(failed, CREATED, T0 + 5 * H + 300_000)).toEqual({
      kind: 'due',
      token: 'scheduled-2026-12-01T05:05:00.000Z',
    });
    // An interval shorter than that is kept.
    const short = { ...failed, [KEK_ROTATION_INTERVAL_ANNOTATION]: '2s' };
    expect(kekSchedule(short, CREATED, T0 + 5 * H + 1_000)).toEqual({ kind: 'later', inMs: 1_000 });
  });

  it('refuses a malformed or too short interval with the annotation in the message', () => {
    const bad = kekSchedule({ [KEK_ROTATION_INTERVAL_ANNOTATION]: 'monthly' }, CREATED, T0);
    expect(bad).toMatchObject({ kind: 'invalid' });
    expect((bad as { message: string }).message).toMatch(
      /^longhorn-ts\.io\/kek-rotation-interval: duration "monthly": expected a Go duration/,
    );
    expect(kekSchedule({ [KEK_ROTATION_INTERVAL_ANNOTATION]: '500ms' }, CREATED, T0)).toEqual({
      kind: 'invalid',
      message: 'longhorn-ts.io/kek-rotation-interval "500ms" is shorter than 1 s',
    });
  });

  it('is due at once when neither a last answer nor a creation time is known', () => {
    expect(kekSchedule({ [KEK_ROTATION_INTERVAL_ANNOTATION]: '1h' }, undefined, T0)).toEqual({
      kind: 'due',
      token: `scheduled-${new Date(T0).toISOString()}`,
    });
  });
});
