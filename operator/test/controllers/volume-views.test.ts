import type { Engine, Node, Replica, Volume, VolumeAttachment } from '@longhorn-ts/api';
import { describe, expect, it } from 'vitest';
import {
  rebuildsPerNode,
  replicaNodeFacts,
  ticketsOf,
  toAttachVolume,
  toEngineView,
  toReplicaView,
  toSchedNode,
  toVolumeView,
  volumeSpecProblem,
} from '../../src/controllers/volume-views.js';

const meta = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  namespace: 'longhorn-system',
  ...extra,
});

function volume(spec: Volume['spec'], status?: Volume['status']): Volume {
  return {
    apiVersion: 'longhorn.io/v1beta2',
    kind: 'Volume',
    metadata: meta('v'),
    spec,
    ...(status && { status }),
  };
}

function replica(name: string, spec: Replica['spec'], status?: Replica['status']): Replica {
  return {
    apiVersion: 'longhorn.io/v1beta2',
    kind: 'Replica',
    metadata: meta(name),
    spec,
    ...(status && { status }),
  };
}

const ready = [
  { type: 'Ready', status: 'True' as const },
  { type: 'Schedulable', status: 'True' as const },
];

function node(name: string, over: Partial<Node['spec']> = {}, diskConditions = ready): Node {
  return {
    apiVersion: 'longhorn.io/v1beta2',
    kind: 'Node',
    metadata: meta(name),
    spec: {
      allowScheduling: true,
      disks: { d1: { path: `/data/${name}`, allowScheduling: true, storageReserved: 10, tags: ['ssd'] } },
      ...over,
    },
    status: {
      conditions: ready,
      zone: 'zone-a',
      region: 'r',
      diskStatus: {
        d1: {
          diskUUID: `uuid-${name}`,
          conditions: diskConditions,
          storageMaximum: 1000,
          storageAvailable: 800,
          storageScheduled: 100,
        },
      },
    },
  };
}

describe('volumeSpecProblem: bad input that reaches the operator', () => {
  it.each([
    [{ size: '0' }, 'spec.size 0 must be a positive number of bytes'],
    [{ size: '' }, 'spec.size "" is not a number of bytes'],
    [{ size: '1000' }, 'spec.size 1000 is not a multiple of 4096 bytes'],
    [{ size: '4096', numberOfReplicas: 0 }, 'spec.numberOfReplicas 0 must be from 1 to 20'],
    [
      { size: '4096', accessMode: 'rwx' as const },
      'accessMode rwx needs a share manager, which longhorn-ts does not have yet',
    ],
  ])('%j', (spec, message) => {
    expect(volumeSpecProblem(volume(spec))).toBe(message);
  });
  it('a good spec has none', () => {
    expect(volumeSpecProblem(volume({ size: '67108864', numberOfReplicas: 3 }))).toBeUndefined();
  });
});

describe('views for next()', () => {
  it('volume defaults: replica count from the setting, 30 min stale timeout, no locality, state "" as never reconciled', () => {
    expect(toVolumeView(volume({ size: '4096' }), { replicas: 2 })).toEqual({
      name: 'v',
      deleting: false,
      spec: {
        nodeID: '',
        numberOfReplicas: 2,
        size: 4096,
        staleReplicaTimeout: 30,
        dataLocality: 'disabled',
        disableFrontend: false,
      },
      status: {
        state: '',
        robustness: 'unknown',
        currentNodeID: '',
        lastDegradedAt: '',
        remountRequestedAt: '',
        lastAutoSalvagedAt: '',
        isStandby: false,
        restoreRequired: false,
      },
    });
  });

  it('engine: modes only while running; an unreported state reads stopped', () => {
    const e: Engine = {
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'Engine',
      metadata: meta('v-e-0'),
      spec: { nodeID: 'node-1', desireState: 'running', replicaAddressMap: { r: 'h:1' } },
      status: {
        currentState: 'running',
        replicaModeMap: { r: 'RW' },
        endpoint: 'nbd://h:2',
        currentSize: '4096',
      },
    };
    expect(toEngineView(e, false)).toMatchObject({
      nodeID: 'node-1',
      desireState: 'running',
      currentState: 'running',
      replicaModes: { r: 'RW' },
      endpoint: 'nbd://h:2',
      currentSize: 4096,
    });
    const fresh = toEngineView({ ...e, status: {} }, true);
    expect(fresh.currentState).toBe('stopped');
    expect(fresh.replicaModes).toBeUndefined();
    expect(fresh.nodeDown).toBe(true);
  });

  it('replica address only while running, from storageIP and port', () => {
    const r = replica(
      'r',
      { nodeID: 'node-1', desireState: 'running' },
      { currentState: 'running', storageIP: '127.0.0.11', port: 9502 },
    );
    const facts = { nodeDown: false, diskSchedulable: true, reusable: true };
    expect(toReplicaView(r, facts).address).toBe('127.0.0.11:9502');
    expect(toReplicaView({ ...r, status: { ...r.status, currentState: 'stopped' } }, facts).address).toBe('');
  });

  it('replica node facts: down when not live or not Ready; reusable needs a schedulable disk that allows scheduling', () => {
    const r = replica('r', { nodeID: 'node-1', diskID: 'uuid-node-1' });
    expect(replicaNodeFacts(r, node('node-1'), true)).toEqual({
      nodeDown: false,
      diskSchedulable: true,
      reusable: true,
    });
    expect(replicaNodeFacts(r, node('node-1'), false)).toMatchObject({ nodeDown: true, reusable: false });
    expect(replicaNodeFacts(r, undefined, true).nodeDown).toBe(true);
    expect(
      replicaNodeFacts(r, node('node-1', { disks: { d1: { path: '/x', allowScheduling: false } } }), true)
        .reusable,
    ).toBe(false);
    expect(replicaNodeFacts(replica('u', {}), undefined, true)).toEqual({
      nodeDown: false,
      diskSchedulable: false,
      reusable: false,
    });
  });

  it('scheduler node: disks by UUID with space and tags; not ready when its operator is not live', () => {
    expect(toSchedNode(node('node-1'), true)).toEqual({
      name: 'node-1',
      zone: 'zone-a',
      region: 'r',
      tags: [],
      ready: true,
      schedulable: true,
      allowScheduling: true,
      disks: [
        {
          id: 'uuid-node-1',
          name: 'd1',
          path: '/data/node-1',
          tags: ['ssd'],
          allowScheduling: true,
          evictionRequested: false,
          schedulable: true,
          storageMaximum: 1000,
          storageAvailable: 800,
          storageReserved: 10,
          storageScheduled: 100,
        },
      ],
    });
    expect(toSchedNode(node('node-1'), false).ready).toBe(false);
  });
});

describe('tickets and rebuild counts', () => {
  it('tickets with their defaults; attach view of a never-reconciled volume is creating/unknown', () => {
    const va: VolumeAttachment = {
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'VolumeAttachment',
      metadata: meta('v'),
      spec: { volume: 'v', attachmentTickets: { t1: { type: 'longhorn-api', nodeID: 'node-2' } } },
    };
    expect(ticketsOf(va)).toEqual({
      t1: { id: 't1', type: 'longhorn-api', nodeID: 'node-2', parameters: {}, generation: 0 },
    });
    expect(ticketsOf(undefined)).toEqual({});
    expect(toAttachVolume(volume({ size: '4096' })).status).toEqual({
      state: 'creating',
      currentNodeID: '',
      robustness: 'unknown',
      currentMigrationNodeID: '',
    });
  });
  it('WO replicas over every engine, per replica node', () => {
    const engines = [
      { spec: {}, status: { replicaModeMap: { a: 'WO', b: 'RW' } } },
      { spec: {}, status: { replicaModeMap: { c: 'WO' } } },
    ] as unknown as Engine[];
    const replicas = [
      replica('a', { nodeID: 'node-1' }),
      replica('b', { nodeID: 'node-1' }),
      replica('c', { nodeID: 'node-1' }),
    ];
    expect(rebuildsPerNode(engines, replicas)).toEqual({ 'node-1': 2 });
  });
});
