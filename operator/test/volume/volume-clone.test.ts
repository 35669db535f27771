import { describe, expect, it } from 'vitest';
import {
  type CloneFacts,
  cloneLayerName,
  cloneStep,
  cloneTargetOfTicket,
  cloneTicketId,
  heldForClone,
  MAX_CLONE_ATTEMPTS,
  parseDataSource,
  sourceSnapshotName,
  ticketsWhileHeld,
} from '../../src/volume/volume-clone.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');

/** A clone of snap://src/s1 into "new" with everything in place: the copy may start. */
function facts(over: Partial<CloneFacts> = {}, target: Partial<CloneFacts['target']> = {}): CloneFacts {
  return {
    now: NOW,
    target: {
      name: 'new',
      dataSource: 'snap://src/s1',
      cloneStatus: { sourceVolume: 'src', snapshot: 's1', state: 'initiated', attemptCount: 0 },
      deleting: false,
      ready: true,
      ...target,
    },
    source: { deleting: false, node: 'n1' },
    snapshot: { volume: 'src', readyToUse: true, error: '', taken: true },
    tickets: { source: true, target: true },
    sourceReplica: { address: '127.0.0.2:10000', id: 'src-r-1' },
    ...over,
  };
}

const job = (state: string, error = '') => ({
  state,
  snapshot: 's1',
  layer: cloneLayerName('new'),
  fromReplicaId: 'src-r-1',
  error,
  bytesDone: 1,
  bytesTotal: 2,
});

describe('parseDataSource', () => {
  it.each([
    ['', undefined],
    [undefined, undefined],
    ['vol://a', { sourceVolume: 'a' }],
    ['snap://a/s', { sourceVolume: 'a', snapshot: 's' }],
  ])('%s', (ds, want) => expect(parseDataSource(ds)).toEqual(want));
  it('says what is wrong with a malformed one', () => {
    expect(parseDataSource('snap://a')).toMatch(/neither vol:\/\/<volume> nor snap:\/\/<volume>\/<snapshot>/);
  });
});

describe('names and tickets', () => {
  it('derives names of at most 63 characters and finds the target from a ticket', () => {
    expect(cloneLayerName('pvc-1')).toBe('clone-pvc-1');
    expect(sourceSnapshotName('pvc-1')).toBe('clone-src-pvc-1');
    expect(cloneLayerName('a'.repeat(63)).length).toBe(63);
    expect(cloneTargetOfTicket({ id: cloneTicketId('pvc-1'), type: 'volume-clone-controller' })).toBe(
      'pvc-1',
    );
    expect(cloneTargetOfTicket({ id: cloneTicketId('pvc-1'), type: 'csi-attacher' })).toBeUndefined();
  });
  it('holds a volume with a data source until the clone is completed: only clone tickets count', () => {
    const tickets = {
      a: { type: 'csi-attacher' },
      b: { type: 'volume-clone-controller' },
    };
    expect(heldForClone({ spec: { dataSource: 'vol://x' } })).toBe(true);
    expect(
      heldForClone({ spec: { dataSource: 'vol://x' }, status: { cloneStatus: { state: 'failed' } } }),
    ).toBe(true);
    expect(
      heldForClone({ spec: { dataSource: 'vol://x' }, status: { cloneStatus: { state: 'completed' } } }),
    ).toBe(false);
    expect(heldForClone({ spec: {} })).toBe(false);
    expect(Object.keys(ticketsWhileHeld(tickets, true))).toEqual(['b']);
    expect(Object.keys(ticketsWhileHeld(tickets, false))).toEqual(['a', 'b']);
  });
});

describe('cloneStep', () => {
  it.each<[string, CloneFacts, ReturnType<typeof cloneStep>]>([
    [
      'no data source, no tickets',
      facts({ tickets: { source: false, target: false } }, { dataSource: '', cloneStatus: {} }),
      { kind: 'none' },
    ],
    [
      'completed with tickets left: release them',
      facts({}, { cloneStatus: { state: 'completed' } }),
      { kind: 'release' },
    ],
    [
      'completed, tickets gone',
      facts({ tickets: { source: false, target: false } }, { cloneStatus: { state: 'completed' } }),
      { kind: 'none' },
    ],
    ['deleting: release', facts({}, { deleting: true }), { kind: 'release' }],
    [
      'new snap:// clone',
      facts({}, { cloneStatus: {} }),
      {
        kind: 'initiate',
        status: {
          sourceVolume: 'src',
          snapshot: 's1',
          state: 'initiated',
          attemptCount: 0,
          nextAllowedAttemptAt: '',
        },
      },
    ],
    [
      'new vol:// clone names its own source snapshot',
      facts({}, { dataSource: 'vol://src', cloneStatus: {} }),
      {
        kind: 'initiate',
        status: {
          sourceVolume: 'src',
          snapshot: 'clone-src-new',
          state: 'initiated',
          attemptCount: 0,
          nextAllowedAttemptAt: '',
        },
      },
    ],
    [
      'malformed',
      facts({}, { dataSource: 'bad' }),
      { kind: 'fail', message: expect.stringMatching(/neither/) },
    ],
    ['source gone', facts({ source: undefined }), { kind: 'fail', message: 'source volume src not found' }],
    [
      'source being deleted',
      facts({ source: { deleting: true, node: '' } }),
      { kind: 'fail', message: 'source volume src not found' },
    ],
    [
      'snapshot gone',
      facts({ snapshot: undefined }),
      { kind: 'fail', message: 'snapshot s1 of volume src not found' },
    ],
    [
      'snapshot of another volume',
      facts({ snapshot: { volume: 'other', readyToUse: true, error: '', taken: true } }),
      { kind: 'fail', message: 'snapshot s1 belongs to volume other, not src' },
    ],
    ['tickets missing', facts({ tickets: { source: true, target: false } }), { kind: 'addTickets' }],
    [
      'vol://: snapshot to take once attached',
      facts(
        { snapshot: undefined },
        {
          dataSource: 'vol://src',
          cloneStatus: { sourceVolume: 'src', snapshot: 'clone-src-new', state: 'initiated' },
        },
      ),
      { kind: 'takeSnapshot', volume: 'src', name: 'clone-src-new' },
    ],
    [
      'snapshot not ready yet',
      facts({ snapshot: { volume: 'src', readyToUse: false, error: '', taken: false } }),
      { kind: 'wait', reason: 'snapshot s1 of volume src to be ready' },
    ],
    [
      'snapshot gone from the engine',
      facts({ snapshot: { volume: 'src', readyToUse: false, error: 'no longer exists', taken: true } }),
      { kind: 'fail', message: 'snapshot s1 of volume src: no longer exists' },
    ],
    [
      'target not attached',
      facts({}, { ready: false }),
      { kind: 'wait', reason: 'volume new to attach for its clone' },
    ],
    [
      'no healthy source replica',
      facts({ sourceReplica: undefined }),
      { kind: 'wait', reason: 'a healthy replica of volume src to serve' },
    ],
    [
      'start the copy',
      facts(),
      {
        kind: 'startClone',
        fromAddress: '127.0.0.2:10000',
        fromReplicaId: 'src-r-1',
        snapshot: 's1',
        layer: 'clone-new',
        status: {
          sourceVolume: 'src',
          snapshot: 's1',
          state: 'initiated',
          attemptCount: 1,
          nextAllowedAttemptAt: '2026-01-01T00:00:05Z',
        },
      },
    ],
    [
      'copy running',
      facts({ job: job('running') }),
      { kind: 'wait', reason: 'the copy (1/2 bytes)', pollMs: 1000 },
    ],
    ['copy done', facts({ job: job('done') }), { kind: 'complete' }],
    [
      'copy failed, back-off not over',
      facts(
        { job: job('failed', 'EIO') },
        {
          cloneStatus: {
            sourceVolume: 'src',
            snapshot: 's1',
            state: 'initiated',
            attemptCount: 1,
            nextAllowedAttemptAt: '2026-01-01T00:00:05Z',
          },
        },
      ),
      { kind: 'wait', reason: 'the next attempt', pollMs: 5000 },
    ],
    [
      'copy failed too often',
      facts(
        { job: job('failed', 'EIO') },
        {
          cloneStatus: {
            sourceVolume: 'src',
            snapshot: 's1',
            state: 'initiated',
            attemptCount: MAX_CLONE_ATTEMPTS,
          },
        },
      ),
      { kind: 'fail', message: `the copy failed ${MAX_CLONE_ATTEMPTS} times, last: EIO` },
    ],
    [
      'attempts used up without an answer from the engine',
      facts(
        {},
        {
          cloneStatus: {
            sourceVolume: 'src',
            snapshot: 's1',
            state: 'initiated',
            attemptCount: MAX_CLONE_ATTEMPTS,
            nextAllowedAttemptAt: '2025-12-31T23:59:00Z',
          },
        },
      ),
      {
        kind: 'fail',
        message: `the copy did not complete in ${MAX_CLONE_ATTEMPTS} attempts (the engine reports nothing)`,
      },
    ],
  ])('%s', (_name, f, want) => {
    expect(cloneStep(f)).toEqual(want);
  });

  it('a failed copy is started again after its back-off, counting the attempt', () => {
    const step = cloneStep(
      facts(
        { job: job('failed', 'EIO'), now: NOW + 6_000 },
        {
          cloneStatus: {
            sourceVolume: 'src',
            snapshot: 's1',
            state: 'initiated',
            attemptCount: 1,
            nextAllowedAttemptAt: '2026-01-01T00:00:05Z',
          },
        },
      ),
    );
    expect(step).toMatchObject({
      kind: 'startClone',
      status: { attemptCount: 2, nextAllowedAttemptAt: '2026-01-01T00:00:16Z' },
    });
  });
});
