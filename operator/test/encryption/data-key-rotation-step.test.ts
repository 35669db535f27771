import {
  DATA_KEY_ROTATION_BANDWIDTH_ANNOTATION,
  DATA_KEY_ROTATION_REQUEST_ANNOTATION,
  DATA_KEY_ROTATION_RESULT_ANNOTATION,
  dataKeyRotationBandwidth,
  pendingDataKeyRotation,
} from '@longhorn-ts/api';
import type { RotationStatus } from '@longhorn-ts/dataplane/crypt/data-key-rotation';
import { describe, expect, it } from 'vitest';
import {
  type RotationMark,
  rotationCondition,
  rotationStep,
  type StepInput,
} from '../../src/encryption/data-key-rotation-step.js';

const PREV = { cipher: 'aes-256-xts' as const, keyId: 'kek-1', wrappedKey: 'AAAA' };
const inFlight: RotationMark = {
  request: 't1',
  node: 'node-1',
  from: 'dk-a',
  to: 'dk-b',
  startedAt: '2026-12-02T00:00:00Z',
  previous: PREV,
};
const done: RotationMark = { ...inFlight, doneAt: '2026-12-02T00:01:00Z' };
const doneKept: RotationMark = { ...done, previous: PREV };
const { previous: _, ...doneDropped } = done;

function status(over: Partial<RotationStatus>): RotationStatus {
  return {
    state: 'none',
    from: '',
    to: '',
    bytesDone: 0,
    bytesTotal: 0,
    percent: 0,
    error: '',
    snapshotsUsingPrevious: [],
    ...over,
  };
}
const running = (percent: number) =>
  status({ state: 'running', from: 'dk-a', to: 'dk-b', percent, bytesDone: percent, bytesTotal: 100 });
const engineAt = (node: string, s: RotationStatus) => ({ node, status: s });

function input(over: Partial<StepInput>): StepInput {
  return { volume: 'v', encrypted: true, request: undefined, mark: undefined, engine: undefined, ...over };
}

describe('rotationStep', () => {
  const table: [string, Partial<StepInput>, string][] = [
    ['plain volume, no request', { encrypted: false }, 'none'],
    ['plain volume, a request', { encrypted: false, request: 't' }, 'refuse'],
    ['encrypted, nothing asked', {}, 'none'],
    ['a request, detached', { request: 't' }, 'refuse'],
    ['a request, attached, never rotated', { request: 't', engine: engineAt('node-1', status({})) }, 'start'],
    [
      'a request after a rotation done and settled',
      {
        request: 't2',
        mark: doneDropped,
        engine: engineAt('node-1', status({ state: 'done', from: 'dk-a', to: 'dk-b' })),
      },
      'start',
    ],
    // Its answer was written before the mark was done: a Volume that still shows t1 pending is
    // a cache that has not caught up, not a new request (CI saw a second rotation start).
    [
      'the request that started the rotation done, seen pending again',
      {
        request: 't1',
        mark: doneDropped,
        engine: engineAt('node-1', status({ state: 'done', from: 'dk-a', to: 'dk-b' })),
      },
      'none',
    ],
    [
      'a request while snapshots use the previous key',
      {
        request: 't2',
        mark: doneKept,
        engine: engineAt(
          'node-1',
          status({ state: 'done', from: 'dk-a', to: 'dk-b', snapshotsUsingPrevious: ['s1'] }),
        ),
      },
      'refuse',
    ],
    [
      'a request while someone else re-encrypts',
      { request: 't', engine: engineAt('node-1', status({ state: 'running', to: 'dk-x' })) },
      'wait',
    ],
    [
      'in flight, the engine never got it (mark written, then a crash)',
      { request: 't1', mark: inFlight, engine: engineAt('node-1', status({})) },
      'ask',
    ],
    [
      'in flight, the engine still on the last rotation',
      {
        request: 't1',
        mark: inFlight,
        engine: engineAt('node-1', status({ state: 'done', from: 'dk-0', to: 'dk-a' })),
      },
      'ask',
    ],
    [
      'in flight, running',
      { request: 't1', mark: inFlight, engine: engineAt('node-1', running(40)) },
      'progress',
    ],
    [
      'in flight, another request meanwhile: still progress (answered at the end)',
      { request: 't9', mark: inFlight, engine: engineAt('node-1', running(40)) },
      'progress',
    ],
    ['in flight, detached', { request: 't1', mark: inFlight }, 'wait'],
    // The watermark is on the replicas: an engine on another node than it started on goes on.
    [
      'in flight, running on another node',
      { mark: inFlight, engine: engineAt('node-2', running(40)) },
      'progress',
    ],
    [
      'in flight, another node, not running it',
      { mark: inFlight, engine: engineAt('node-2', status({})) },
      'ask',
    ],
    [
      'in flight, done',
      {
        request: 't1',
        mark: inFlight,
        engine: engineAt('node-1', status({ state: 'done', from: 'dk-a', to: 'dk-b' })),
      },
      'finished',
    ],
    [
      'in flight, failed, not answered',
      {
        request: 't1',
        mark: inFlight,
        engine: engineAt('node-1', status({ state: 'failed', from: 'dk-a', to: 'dk-b', error: 'EIO' })),
      },
      'failed',
    ],
    [
      'in flight, failed and answered, a new request resumes it',
      {
        request: 't2',
        lastAnswer: { to: 'dk-b', error: 'EIO' },
        mark: inFlight,
        engine: engineAt('node-1', status({ state: 'failed', from: 'dk-a', to: 'dk-b', error: 'EIO' })),
      },
      'ask',
    ],
    [
      'in flight, failed and answered, nothing asked',
      {
        lastAnswer: { to: 'dk-b', error: 'EIO' },
        mark: inFlight,
        engine: engineAt('node-1', status({ state: 'failed', from: 'dk-a', to: 'dk-b', error: 'EIO' })),
      },
      'none',
    ],
    [
      'done, previous kept, the snapshots are gone',
      { mark: doneKept, engine: engineAt('node-1', status({ state: 'done', from: 'dk-a', to: 'dk-b' })) },
      'settle',
    ],
    [
      'done, previous kept, snapshots remain',
      {
        mark: doneKept,
        engine: engineAt(
          'node-1',
          status({ state: 'done', from: 'dk-a', to: 'dk-b', snapshotsUsingPrevious: ['s1'] }),
        ),
      },
      'none',
    ],
    ['done, previous kept, detached', { mark: doneKept }, 'none'],
  ];
  it.each(table)('%s -> %s', (_name, over, kind) => {
    expect(rotationStep(input(over)).kind).toBe(kind);
  });

  it('says why, naming the volume and the keys', () => {
    expect(rotationStep(input({ encrypted: false, request: 't' }))).toEqual({
      kind: 'refuse',
      error: 'volume v is not encrypted: it has no data key to rotate',
    });
    expect(rotationStep(input({ request: 't' }))).toMatchObject({
      kind: 'refuse',
      error: expect.stringContaining('volume v is not attached: attach it'),
    });
    expect(rotationStep(input({ mark: inFlight }))).toEqual({
      kind: 'wait',
      message:
        're-encryption from data key dk-a to dk-b is paused: the volume is not attached; it goes on from where it stopped when the volume is attached (to any node)',
    });
  });
});

describe('rotationCondition', () => {
  it('InProgress with the percent, Completed, Failed; nothing for the other steps', () => {
    expect(rotationCondition({ kind: 'progress', status: running(42) }, inFlight)).toEqual({
      status: 'True',
      reason: 'InProgress',
      message: 're-encrypting from data key dk-a to dk-b: 42% (42 of 100 bytes)',
    });
    expect(rotationCondition({ kind: 'finished', keepPrevious: ['s1'] }, inFlight)).toMatchObject({
      status: 'True',
      reason: 'Completed',
      message: expect.stringContaining(
        'dk-a to dk-b: 100%; the previous data key is kept while snapshots s1',
      ),
    });
    expect(rotationCondition({ kind: 'failed', error: 'EIO' }, inFlight)).toMatchObject({
      status: 'False',
      reason: 'Failed',
    });
    expect(rotationCondition({ kind: 'start' }, inFlight)).toBeUndefined();
  });
});

describe('pendingDataKeyRotation', () => {
  it('is the TOKEN until the result answers it', () => {
    expect(pendingDataKeyRotation(undefined)).toBeUndefined();
    expect(pendingDataKeyRotation({ [DATA_KEY_ROTATION_REQUEST_ANNOTATION]: ' t1 ' })).toBe('t1');
    const answered = {
      [DATA_KEY_ROTATION_REQUEST_ANNOTATION]: 't1',
      [DATA_KEY_ROTATION_RESULT_ANNOTATION]: JSON.stringify({
        request: 't1',
        from: 'dk-a',
        to: 'dk-b',
        error: '',
        doneAt: 'x',
      }),
    };
    expect(pendingDataKeyRotation(answered)).toBeUndefined();
    expect(pendingDataKeyRotation({ ...answered, [DATA_KEY_ROTATION_REQUEST_ANNOTATION]: 't2' })).toBe('t2');
    expect(pendingDataKeyRotation({ ...answered, [DATA_KEY_ROTATION_RESULT_ANNOTATION]: 'not json' })).toBe(
      't1',
    );
  });
});

describe('dataKeyRotationBandwidth', () => {
  it('bytes per second, 0 without it, a problem for anything else', () => {
    expect(dataKeyRotationBandwidth(undefined)).toBe(0);
    expect(dataKeyRotationBandwidth({ [DATA_KEY_ROTATION_BANDWIDTH_ANNOTATION]: '1048576' })).toBe(1048576);
    expect(dataKeyRotationBandwidth({ [DATA_KEY_ROTATION_BANDWIDTH_ANNOTATION]: '1Mi' })).toEqual({
      problem: expect.stringContaining('"1Mi" is not a number of bytes per second'),
    });
  });
});
