import { describe, expect, it } from 'vitest';
import {
  blockFingerprint,
  blocksToReencrypt,
  checkRevert,
  dataKeyId,
  keyOfBlock,
  keyRuns,
  nextChunk,
  planResume,
  ROTATION_CHUNK,
  type RotationRecord,
  rotationStatus,
  snapshotsUsingPrevious,
} from '../../src/crypt/data-key-rotation.js';
import { newDataKey } from '../../src/crypt/key-envelope.js';
import { CRYPT_BLOCK } from '../../src/crypt/xts-cipher.js';

const B = CRYPT_BLOCK;
const MiB = 1 << 20;

describe('data-key rotation decisions (pure)', () => {
  it('names a data key by a stable fingerprint that is not the key', () => {
    const key = newDataKey();
    const id = dataKeyId(key);
    expect(id).toMatch(/^dk-[0-9a-f]{16}$/);
    expect(dataKeyId(Buffer.from(key))).toBe(id);
    expect(dataKeyId(newDataKey())).not.toBe(id);
    expect(key.toString('hex')).not.toContain(id.slice(3));
  });

  it.each([
    // block, watermark, key
    [0, 0, 'previous'],
    [0, B, 'current'],
    [1, B, 'previous'],
    [255, MiB, 'current'],
    [256, MiB, 'previous'],
    [1e6, Number.POSITIVE_INFINITY, 'current'],
  ] as const)('block %d with watermark %d is under the %s key', (block, wm, key) => {
    expect(keyOfBlock(block, wm)).toBe(key);
  });

  it.each([
    ['below the watermark', 0, 4 * B, 8 * B, [[0, 4 * B, 'current']]],
    ['ending at it', 4 * B, 4 * B, 8 * B, [[4 * B, 4 * B, 'current']]],
    ['from it', 8 * B, 2 * B, 8 * B, [[8 * B, 2 * B, 'previous']]],
    [
      'across it',
      6 * B,
      4 * B,
      8 * B,
      [
        [6 * B, 2 * B, 'current'],
        [8 * B, 2 * B, 'previous'],
      ],
    ],
    ['no rotation', 0, MiB, Number.POSITIVE_INFINITY, [[0, MiB, 'current']]],
  ] as const)('cuts a range %s', (_what, offset, length, wm, runs) => {
    expect(keyRuns(offset, length, wm).map((r) => [r.offset, r.length, r.key])).toEqual(runs);
  });

  it.each([
    [0, 4 * MiB, { offset: 0, length: ROTATION_CHUNK }],
    [3 * MiB, 4 * MiB, { offset: 3 * MiB, length: MiB }],
    [3 * MiB, 3 * MiB + 8 * B, { offset: 3 * MiB, length: 8 * B }],
    [4 * MiB, 4 * MiB, null],
    [5 * MiB, 4 * MiB, null],
  ])('the chunk after watermark %d of a %d-byte volume', (wm, size, chunk) => {
    expect(nextChunk(wm, size)).toEqual(chunk);
  });

  describe('planResume: what a start does with the keys it was given and the record it finds', () => {
    const OLD = 'dk-000000000000000a';
    const NEW = 'dk-000000000000000b';
    const NEWER = 'dk-000000000000000c';
    const running: RotationRecord = { from: OLD, to: NEW, watermark: 3 * MiB };
    const done: RotationRecord = { from: OLD, to: NEW, watermark: 8 * MiB, done: { at: 't', snapshots: [] } };
    it.each([
      ['never rotated', { current: OLD }, undefined, 'none'],
      [
        'a rotation asked for but never recorded (tool stopped before the engine got it)',
        { current: NEW, previous: OLD },
        undefined,
        'run@0',
      ],
      ['a rotation under way', { current: NEW, previous: OLD }, running, 'run@3145728'],
      [
        'a finished rotation, previous key still in the record',
        { current: NEW, previous: OLD },
        done,
        'done',
      ],
      ['a finished rotation, previous key dropped', { current: NEW }, done, 'done'],
      ['the next rotation, not yet recorded', { current: NEWER, previous: NEW }, done, 'run@0'],
      ['stale arguments mid-rotation (the old key only)', { current: OLD }, running, 'refuse'],
      ['stale arguments after a rotation', { current: OLD }, done, 'refuse'],
      ['the previous key missing mid-rotation', { current: NEW }, running, 'refuse'],
      ['another previous key mid-rotation', { current: NEW, previous: NEWER }, running, 'refuse'],
    ] as const)('%s', (_what, given, saved, want) => {
      const plan = planResume('vol', given, saved);
      const got = plan.kind === 'run' ? `run@${plan.record.watermark}` : plan.kind;
      expect(got).toBe(want);
      if (plan.kind === 'refuse') expect(plan.reason).toMatch(/^volume vol: .*data key/);
      if (plan.kind === 'run' && saved === undefined)
        expect(plan.record).toEqual({ from: OLD, to: NEW, watermark: 0 });
    });
    it('resumes with the fingerprints of the chunk in flight', () => {
      const rec: RotationRecord = { ...running, inProgress: { end: 4 * MiB, blocks: ['x', ''] } };
      expect(planResume('vol', { current: NEW, previous: OLD }, rec)).toEqual({ kind: 'run', record: rec });
    });
  });

  it('re-encrypts every data block of a fresh chunk, none of its holes', () => {
    const chunk = Buffer.alloc(4 * B);
    chunk.fill(7, 0, B);
    chunk.fill(9, 2 * B, 3 * B);
    expect(blocksToReencrypt(chunk)).toEqual([true, false, true, false]);
    expect(blockFingerprint(chunk.subarray(B, 2 * B))).toBe('');
  });

  it('after a stop mid-chunk re-encrypts only the blocks that differ from their new ciphertext', () => {
    const now = Buffer.alloc(4 * B);
    now.fill(1, 0, B); // written: matches its fingerprint
    now.fill(2, B, 2 * B); // not yet written: still the old ciphertext
    now.fill(3, 3 * B); // written
    const blocks = [
      blockFingerprint(now.subarray(0, B)),
      blockFingerprint(Buffer.alloc(B, 5)),
      '',
      blockFingerprint(now.subarray(3 * B)),
    ];
    expect(blocksToReencrypt(now, blocks)).toEqual([false, true, false, false]);
  });

  it('keeps the previous key for the snapshots of a finished rotation that still exist', () => {
    const rec: RotationRecord = {
      from: 'dk-a',
      to: 'dk-b',
      watermark: MiB,
      done: { at: 't', snapshots: ['s1', 's2'] },
    };
    expect(snapshotsUsingPrevious(rec, ['s2', 's3'])).toEqual(['s2']);
    expect(snapshotsUsingPrevious(rec, ['s3'])).toEqual([]);
    expect(snapshotsUsingPrevious({ ...rec, done: undefined }, ['s1'])).toEqual([]);
  });

  it('reports progress in bytes', () => {
    expect(rotationStatus(undefined, MiB).state).toBe('none');
    const run = rotationStatus({ from: 'dk-a', to: 'dk-b', watermark: MiB }, 4 * MiB);
    expect(run).toMatchObject({ state: 'running', bytesDone: MiB, bytesTotal: 4 * MiB, percent: 25 });
    expect(rotationStatus({ from: 'dk-a', to: 'dk-b', watermark: MiB }, 4 * MiB, 'EIO').state).toBe('failed');
    const done = rotationStatus(
      { from: 'dk-a', to: 'dk-b', watermark: MiB, done: { at: 't', snapshots: [] } },
      2 * MiB,
    );
    expect(done).toMatchObject({ state: 'done', bytesDone: 2 * MiB, percent: 100 });
  });

  it('refuses a revert onto a snapshot with blocks under the previous key', () => {
    const running: RotationRecord = { from: 'dk-a', to: 'dk-b', watermark: MiB };
    expect(() => checkRevert('vol', running, 's1', ['s1'])).toThrow(
      /snapshot s1 was taken before .*dk-b.*refused/,
    );
    const done: RotationRecord = { ...running, done: { at: 't', snapshots: ['s1'] } };
    expect(() => checkRevert('vol', done, 's1', ['s1', 's2'])).toThrow(/refused/);
    expect(() => checkRevert('vol', done, 's2', ['s1', 's2'])).not.toThrow();
    expect(() => checkRevert('vol', undefined, 's1', ['s1'])).not.toThrow();
  });
});
