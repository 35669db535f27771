import { describe, expect, it } from 'vitest';
import { planWrites } from '../../src/controllers/volume-actions.js';
import type { Action } from '../../src/volume/volume-model.js';

const T = '2026-01-01T00:00:00Z';

describe('planWrites: the actions of one pass folded into CR writes', () => {
  it('a new volume: one engine, three unscheduled replicas', () => {
    const w = planWrites(
      [
        { kind: 'createEngine' },
        { kind: 'createReplica', hardNodeAffinity: '', rebuild: false },
        { kind: 'createReplica', hardNodeAffinity: '', rebuild: false },
        { kind: 'createReplica', hardNodeAffinity: '', rebuild: false },
      ],
      {},
    );
    expect(w.createEngine).toBe(true);
    expect(w.createReplicas).toHaveLength(3);
    expect(w.engine).toBeUndefined();
    expect(w.replicas.size).toBe(0);
  });

  it('startEngine replaces the address map: old members become null in the merge patch', () => {
    const w = planWrites(
      [
        { kind: 'startReplica', replica: 'r1' },
        {
          kind: 'startEngine',
          nodeID: 'node-2',
          replicaAddresses: { r1: '127.0.0.11:100', r2: '127.0.0.12:100' },
          disableFrontend: false,
        },
      ],
      { r0: '127.0.0.13:100', r1: 'old:1' },
    );
    expect(w.engine).toEqual({
      nodeID: 'node-2',
      desireState: 'running',
      disableFrontend: false,
      replicaAddressMap: { r0: null, r1: '127.0.0.11:100', r2: '127.0.0.12:100' },
    });
    expect(w.replicas.get('r1')).toEqual({ desireState: 'running' });
  });

  it('rebuild bookkeeping: failed then removed from the engine; a reused one cleared and added', () => {
    const actions: Action[] = [
      { kind: 'markReplicaFailed', replica: 'r3', at: T, reason: 'ERR' },
      { kind: 'stopReplica', replica: 'r3' },
      { kind: 'removeReplicaFromEngine', replica: 'r3' },
      { kind: 'reuseReplica', replica: 'r4', rebuildRetryCount: 2 },
      { kind: 'addReplicaToEngine', replica: 'r4', address: '127.0.0.13:9' },
    ];
    const w = planWrites(actions, { r3: 'a:1' });
    expect(w.replicas.get('r3')).toEqual({ failedAt: T, lastFailedAt: T, desireState: 'stopped' });
    expect(w.replicas.get('r4')).toEqual({ failedAt: '', healthyAt: '', rebuildRetryCount: 2 });
    expect(w.engine).toEqual({ replicaAddressMap: { r3: null, r4: '127.0.0.13:9' } });
  });

  it('an unusable failure sets the retry count to the maximum; a first healthy mark resets it', () => {
    const w = planWrites(
      [
        { kind: 'markReplicaFailed', replica: 'a', at: T, reason: 'x', unusable: true },
        { kind: 'markReplicaHealthy', replica: 'b', at: T, first: true },
        { kind: 'markReplicaHealthy', replica: 'c', at: T, first: false },
      ],
      {},
    );
    expect(w.replicas.get('a')?.rebuildRetryCount).toBe(5);
    expect(w.replicas.get('b')).toEqual({ healthyAt: T, rebuildRetryCount: 0, lastHealthyAt: T });
    expect(w.replicas.get('c')).toEqual({ lastHealthyAt: T });
  });

  it('a deleted replica gets no spec patch; stop, salvage and finalizer flags', () => {
    const w = planWrites(
      [
        { kind: 'stopReplica', replica: 'r1' },
        { kind: 'deleteReplica', replica: 'r1', reason: 'stale' },
        { kind: 'stopEngine' },
        { kind: 'requestSalvage' },
        { kind: 'salvageReplica', replica: 'r2' },
        { kind: 'deleteEngine' },
        { kind: 'removeFinalizer' },
      ],
      {},
    );
    expect(w.replicas.has('r1')).toBe(false);
    expect(w.deleteReplicas).toEqual([{ name: 'r1', reason: 'stale' }]);
    expect(w.engine).toEqual({ nodeID: '', desireState: 'stopped', salvageRequested: true });
    expect(w.replicas.get('r2')).toEqual({ failedAt: '' });
    expect(w.deleteEngine).toBe(true);
    expect(w.removeFinalizer).toBe(true);
  });
});
