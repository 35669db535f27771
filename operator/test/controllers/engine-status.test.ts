import type { SnapshotView, VolumeView } from '@longhorn-ts/dataplane/engine/engine-client';
import { describe, expect, it } from 'vitest';
import { engineArgs, engineOwner } from '../../src/controllers/engine-controller.js';
import {
  cloneStatusMap,
  engineNeedsSalvage,
  membershipPlan,
  runningEngineStatus,
  snapshotMap,
  stoppedEngineStatus,
} from '../../src/controllers/engine-status.js';

function replica(id: string, address: string, mode: 'RW' | 'WO' | 'ERR', rebuildPercent = 0) {
  return {
    id,
    address,
    mode,
    error: mode === 'ERR' ? 'connection closed' : '',
    rebuilding: mode === 'WO',
    rebuildBytesDone: 0,
    rebuildBytesTotal: 0,
    rebuildPercent,
  };
}

function view(replicas: VolumeView['replicas'], size = 1 << 26): VolumeView {
  return {
    name: 'v',
    size,
    robustness: 'healthy',
    replicas,
    frontend: 'nbd://127.0.0.11:4000',
    generation: 3,
  };
}

function snap(
  name: string,
  parent: string,
  children: string[],
  extra: Partial<SnapshotView> = {},
): SnapshotView {
  return {
    name,
    parent,
    children,
    removed: false,
    userCreated: true,
    created: '2026-01-01T00:00:00Z',
    labels: {},
    size: 1 << 26,
    allocatedBytes: 4096,
    head: false,
    ...extra,
  };
}

describe('engineArgs: the engine process as local-volume.ts starts it, every replica over TCP', () => {
  it('sorted --replica ID=HOST:PORT, listen and control on the node IP, state file, wanted, timeout', () => {
    expect(
      engineArgs({
        volume: 'v',
        replicas: { 'v-r-b': '127.0.0.12:9502', 'v-r-a': '127.0.0.11:9502' },
        ip: '127.0.0.11',
        stateFile: '/d/engines/v-e-0.json',
        wanted: 3,
        timeoutMs: 8000,
        salvage: false,
      }),
    ).toEqual([
      '--volume',
      'v',
      '--replica',
      'v-r-a=127.0.0.11:9502',
      '--replica',
      'v-r-b=127.0.0.12:9502',
      '--listen',
      '127.0.0.11:0',
      '--control',
      '127.0.0.11:0',
      '--state-file',
      '/d/engines/v-e-0.json',
      '--wanted',
      '3',
      '--timeout-ms',
      '8000',
    ]);
  });
  it('--salvage when the volume asked for it; never --local-replica', () => {
    const args = engineArgs({
      volume: 'v',
      replicas: {},
      ip: 'h',
      stateFile: 's',
      wanted: 1,
      timeoutMs: 1,
      salvage: true,
    });
    expect(args).toContain('--salvage');
    expect(args.join(' ')).not.toContain('--local-replica');
  });
  it('the owner is spec.nodeID, else the node that last ran it', () => {
    const e = (nodeID: string, ownerID?: string) =>
      ({ spec: { nodeID }, status: ownerID === undefined ? undefined : { ownerID } }) as never;
    expect(engineOwner(e('node-1', 'node-2'))).toBe('node-1');
    expect(engineOwner(e('', 'node-2'))).toBe('node-2');
    expect(engineOwner(e(''))).toBe('');
  });
});

describe('cloneStatusMap', () => {
  const job = (state: string, bytesDone: number, bytesTotal: number, error = '') => ({
    state: state as 'running',
    fromAddress: '127.0.0.21:10000',
    fromReplicaId: 'src-r-1',
    snapshot: 's1',
    layer: 'clone-v',
    bytesDone,
    bytesTotal,
    error,
  });
  const replicas = [replica('a', '127.0.0.11:1', 'RW'), replica('b', '127.0.0.12:1', 'ERR')];
  it('one entry per replica it fills, progress in percent, Longhorn state names', () => {
    expect(cloneStatusMap({ ...view(replicas), clone: job('running', 1, 4) })).toEqual({
      '127.0.0.11:1': {
        isCloning: true,
        error: '',
        progress: 25,
        state: 'in_progress',
        fromReplicaAddress: '127.0.0.21:10000',
        snapshotName: 's1',
      },
    });
    expect(cloneStatusMap({ ...view(replicas), clone: job('done', 4, 4) })['127.0.0.11:1']).toMatchObject({
      isCloning: false,
      progress: 100,
      state: 'complete',
    });
    expect(
      cloneStatusMap({ ...view(replicas), clone: job('failed', 1, 4, 'source went away') })['127.0.0.11:1'],
    ).toMatchObject({ isCloning: false, state: 'error', error: 'source went away' });
  });
  it('empty when no clone ran (or the engine predates clones)', () => {
    expect(cloneStatusMap({ ...view(replicas), clone: job('idle', 0, 0) })).toEqual({});
    expect(cloneStatusMap(view(replicas))).toEqual({});
  });
});

describe('runningEngineStatus', () => {
  it('modes, addresses, endpoint, size and a rebuild keyed by the rebuilding replica address', () => {
    const s = runningEngineStatus(
      undefined,
      view([
        replica('a', '127.0.0.11:1', 'RW'),
        replica('b', '127.0.0.12:1', 'WO', 40),
        replica('c', '127.0.0.13:1', 'ERR'),
      ]),
      [snap('s1', '', ['h']), snap('h', 's1', [], { head: true })],
      {
        node: 'node-1',
        ip: '127.0.0.11',
        controlPort: 5000,
        instanceManagerName: 'instance-manager-node-1',
        salvageRequested: false,
      },
    );
    expect(s).toMatchObject({
      ownerID: 'node-1',
      currentState: 'running',
      started: true,
      ip: '127.0.0.11',
      port: 5000,
      endpoint: 'nbd://127.0.0.11:4000',
      currentSize: String(1 << 26),
      replicaModeMap: { a: 'RW', b: 'WO', c: 'ERR' },
      currentReplicaAddressMap: { a: '127.0.0.11:1', b: '127.0.0.12:1', c: '127.0.0.13:1' },
      rebuildStatus: {
        '127.0.0.12:1': { isRebuilding: true, progress: 40, fromReplicaAddress: '127.0.0.11:1' },
      },
    });
    expect(Object.keys(s.snapshots ?? {})).toEqual(['s1', 'volume-head']);
    expect(s.salvageExecuted).toBe(false);
  });
  it('a salvage request is reported executed once the engine runs', () => {
    const s = runningEngineStatus(undefined, view([]), undefined, {
      node: 'n',
      ip: 'i',
      controlPort: 1,
      instanceManagerName: 'im',
      salvageRequested: true,
    });
    expect(s.salvageExecuted).toBe(true);
    expect(s.snapshots).toBeUndefined();
  });
  it('stopped: no endpoint, no modes; error keeps started and says why', () => {
    const prev = runningEngineStatus(undefined, view([replica('a', 'x:1', 'RW')]), [], {
      node: 'n',
      ip: 'i',
      controlPort: 1,
      instanceManagerName: 'im',
      salvageRequested: false,
    });
    expect(stoppedEngineStatus(prev, 'n', 'stopped')).toMatchObject({
      currentState: 'stopped',
      started: false,
      endpoint: '',
      replicaModeMap: {},
    });
    const failed = stoppedEngineStatus(
      prev,
      'n',
      'error',
      'cannot start: salvage to start from what answered',
    );
    expect(failed).toMatchObject({
      currentState: 'error',
      started: true,
      conditions: [{ type: 'InstanceCreation', status: 'False', reason: 'EngineStartFailed' }],
    });
    expect(engineNeedsSalvage(failed)).toBe(true);
    expect(engineNeedsSalvage(stoppedEngineStatus(prev, 'n', 'error', 'exit 1'))).toBe(false);
    expect(engineNeedsSalvage(stoppedEngineStatus(failed, 'n', 'stopped'))).toBe(false);
  });
});

describe('snapshotMap: Longhorn status.snapshots', () => {
  it('the head is volume-head (also as a child); size is the allocated bytes', () => {
    const m = snapshotMap([
      snap('s1', '', ['s2']),
      snap('s2', 's1', ['head-002'], { userCreated: false }),
      snap('head-002', 's2', [], { head: true }),
    ]);
    expect(m.s2).toEqual({
      name: 's2',
      parent: 's1',
      children: { 'volume-head': true },
      removed: false,
      usercreated: false,
      created: '2026-01-01T00:00:00Z',
      size: '4096',
      labels: {},
    });
    expect(m['volume-head']?.parent).toBe('s2');
  });
});

describe('membershipPlan: the running engine made equal to spec.replicaAddressMap', () => {
  it('removes members not wanted (or at another address) and adds one missing', () => {
    expect(
      membershipPlan(
        { a: 'h:1', b: 'h:2', c: 'h:3', d: 'h:4' },
        view([replica('a', 'h:1', 'RW'), replica('b', 'old:2', 'RW'), replica('x', 'h:9', 'ERR')]),
      ),
    ).toEqual({ remove: ['b', 'x'], add: { id: 'b', address: 'h:2' } });
  });
  it('adds nothing while a replica rebuilds (one rebuild at a time)', () => {
    expect(
      membershipPlan(
        { a: 'h:1', b: 'h:2', c: 'h:3' },
        view([replica('a', 'h:1', 'RW'), replica('b', 'h:2', 'WO')]),
      ),
    ).toEqual({
      remove: [],
    });
  });
  it('in sync: nothing to do', () => {
    expect(membershipPlan({ a: 'h:1' }, view([replica('a', 'h:1', 'ERR')]))).toEqual({ remove: [] });
  });
});
