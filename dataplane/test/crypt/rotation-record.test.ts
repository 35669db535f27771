import { describe, expect, it } from 'vitest';
import type { RotationRecord } from '../../src/crypt/data-key-rotation.js';
import {
  decodeRotationRecord,
  encodeRotationRecord,
  latestRotationRecord,
} from '../../src/crypt/rotation-record.js';

const K0 = 'dk-0000000000000000';
const K1 = 'dk-1111111111111111';
const K2 = 'dk-2222222222222222';
const MiB = 1 << 20;

const at = (watermark: number, extra: Partial<RotationRecord> = {}): RotationRecord => ({
  from: K1,
  to: K2,
  watermark,
  ...extra,
});
const chunk = (watermark: number): RotationRecord =>
  at(watermark, { inProgress: { end: watermark + MiB, blocks: ['', 'abc'] } });
const done = (from: string, to: string): RotationRecord => ({
  from,
  to,
  watermark: 8 * MiB,
  done: { at: '2026-12-02T08:00:00Z', snapshots: ['s1'] },
});

describe('latestRotationRecord: which copy a start goes by', () => {
  const given = { current: K2, previous: K1 };
  it.each([
    ['none anywhere', [undefined, undefined], undefined],
    ['only the state file', [at(3 * MiB)], at(3 * MiB)],
    ['only a replica (an engine on another node)', [undefined, at(3 * MiB)], at(3 * MiB)],
    ['the furthest watermark', [at(2 * MiB), at(5 * MiB), at(4 * MiB)], at(5 * MiB)],
    ['a chunk named in progress comes after its start', [at(5 * MiB), chunk(5 * MiB)], chunk(5 * MiB)],
    ['the chunk after it was flushed comes after the chunk', [chunk(5 * MiB), at(6 * MiB)], at(6 * MiB)],
    ['done beats any watermark', [at(7 * MiB), done(K1, K2)], done(K1, K2)],
    [
      'an older rotation to the previous key, done, when the new one saved nothing yet',
      [done(K0, K1), undefined],
      done(K0, K1),
    ],
    [
      'the done copy of the older rotation over one a stale replica kept mid-way',
      [{ from: K0, to: K1, watermark: MiB }, done(K0, K1)],
      done(K0, K1),
    ],
    ['the new rotation over the old one it follows', [done(K0, K1), at(MiB)], at(MiB)],
  ] as const)('%s', (_name, copies, want) => {
    expect(latestRotationRecord(given, copies as readonly (RotationRecord | undefined)[])).toEqual(want);
  });

  it('keeps the first copy when none fits the keys given (planResume refuses it by name)', () => {
    const other = { from: K0, to: K1, watermark: MiB };
    expect(latestRotationRecord({ current: K2 }, [other, done(K0, K1)])).toBe(other);
  });
});

describe('decodeRotationRecord', () => {
  it('reads back what encodeRotationRecord wrote', () => {
    for (const r of [at(0), chunk(4 * MiB), done(K1, K2), at(MiB, { bandwidthLimit: 4 * MiB })]) {
      expect(decodeRotationRecord(encodeRotationRecord(r), 'r1')).toEqual(r);
    }
  });

  it.each([
    ['{', /of replica r1: not JSON/],
    ['[]', /not an object/],
    ['{"from":"k1","to":"dk-2222222222222222","watermark":0}', /bad data key ids/],
    [`{"from":"${K1}","to":"${K2}","watermark":100}`, /bad watermark 100/],
    [`{"from":"${K1}","to":"${K2}","watermark":-4096}`, /bad watermark -4096/],
    [`{"from":"${K1}","to":"${K2}","watermark":0,"bandwidthLimit":0}`, /bad bandwidth limit/],
    [`{"from":"${K1}","to":"${K2}","watermark":4096,"inProgress":{"end":4096,"blocks":[]}}`, /bad chunk/],
    [`{"from":"${K1}","to":"${K2}","watermark":0,"done":{"snapshots":[]}}`, /bad done mark/],
  ])('refuses %s', (text, message) => {
    expect(() => decodeRotationRecord(text, 'replica r1')).toThrow(message);
  });
});
