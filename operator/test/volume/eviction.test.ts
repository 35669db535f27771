import type { Node, Replica } from '@longhorn-ts/api';
import type { VolumeView as EngineVolumeView } from '@longhorn-ts/dataplane/engine/engine-client';
import { describe, expect, it } from 'vitest';
import {
  frontendChange,
  revertAnswerPatch,
  revertRefusal,
} from '../../src/controllers/engine-maintenance.js';
import { evictionChanges, shouldEvictReplica } from '../../src/controllers/replica-eviction.js';
import { evictionTicketId, wantsEvictionTicket } from '../../src/controllers/volume-eviction-controller.js';
import {
  type Action,
  DEFAULT_VOLUME_SETTINGS,
  type EngineView,
  type ReplicaMode,
  type ReplicaView,
  type VolumeView,
} from '../../src/volume/volume-model.js';
import { next } from '../../src/volume/volume-state.js';

const NOW_ISO = '2024-05-01T12:00:00Z';
const NOW = Date.parse(NOW_ISO);
const T0 = '2024-05-01T02:00:00Z';
const G = 2 ** 30;
const addr = (name: string) => `${name.slice(2)}:10000`;

function volume(replicas: number, dataLocality: VolumeView['spec']['dataLocality'] = 'disabled'): VolumeView {
  return {
    name: 'vol',
    deleting: false,
    spec: {
      nodeID: 'a',
      numberOfReplicas: replicas,
      size: G,
      staleReplicaTimeout: 30,
      dataLocality,
      disableFrontend: false,
    },
    status: {
      state: 'attached',
      robustness: 'healthy',
      currentNodeID: 'a',
      lastDegradedAt: '',
      remountRequestedAt: '',
      lastAutoSalvagedAt: '',
    },
  };
}

function engine(modes: Record<string, ReplicaMode>): EngineView {
  return {
    name: 'vol-e-0',
    nodeID: 'a',
    desireState: 'running',
    currentState: 'running',
    replicaAddresses: Object.fromEntries(Object.keys(modes).map((n) => [n, addr(n)])),
    replicaModes: modes,
    endpoint: 'nbd://a:10809/vol',
    currentSize: G,
    salvageRequested: false,
    salvageExecuted: false,
    nodeDown: false,
  };
}

function replica(node: string, o: Partial<ReplicaView> = {}): ReplicaView {
  return {
    name: `r-${node}`,
    nodeID: node,
    diskID: `disk-${node}`,
    hardNodeAffinity: '',
    desireState: 'running',
    currentState: 'running',
    failedAt: '',
    lastFailedAt: '',
    healthyAt: T0,
    lastHealthyAt: T0,
    rebuildRetryCount: 0,
    evictionRequested: false,
    deleting: false,
    address: addr(`r-${node}`),
    nodeDown: false,
    diskSchedulable: true,
    reusable: true,
    ...o,
  };
}

const evicted = (node: string) => replica(node, { evictionRequested: true });
const newReplica = { kind: 'createReplica', hardNodeAffinity: '', rebuild: true } as const;

describe('eviction in the volume state machine', () => {
  const rows: {
    name: string;
    volume: VolumeView;
    modes: Record<string, ReplicaMode>;
    replicas: ReplicaView[];
    actions: Action[];
  }[] = [
    {
      name: 'a healthy volume with a replica to evict gets one more replica',
      volume: volume(2),
      modes: { 'r-a': 'RW', 'r-b': 'RW' },
      replicas: [replica('a'), evicted('b')],
      actions: [newReplica],
    },
    {
      name: 'nothing to evict: nothing is made',
      volume: volume(2),
      modes: { 'r-a': 'RW', 'r-b': 'RW' },
      replicas: [replica('a'), replica('b')],
      actions: [],
    },
    {
      name: 'while the new replica rebuilds no other is made',
      volume: volume(2),
      modes: { 'r-a': 'RW', 'r-b': 'RW', 'r-c': 'WO' },
      replicas: [replica('a'), evicted('b'), replica('c', { healthyAt: '', lastHealthyAt: '' })],
      actions: [],
    },
    {
      name: 'the new replica is RW: the evicted one goes',
      volume: volume(2),
      modes: { 'r-a': 'RW', 'r-b': 'RW', 'r-c': 'RW' },
      replicas: [replica('a'), evicted('b'), replica('c')],
      actions: [
        {
          kind: 'deleteReplica',
          replica: 'r-b',
          reason: 'eviction requested and enough healthy replicas remain',
        },
      ],
    },
    {
      name: 'an extra healthy replica already covers the evicted one: it goes without a new one',
      volume: volume(1),
      modes: { 'r-a': 'RW', 'r-b': 'RW' },
      replicas: [replica('a'), evicted('b')],
      actions: [
        {
          kind: 'deleteReplica',
          replica: 'r-b',
          reason: 'eviction requested and enough healthy replicas remain',
        },
      ],
    },
    {
      name: 'strict-local keeps its one local replica',
      volume: volume(1, 'strict-local'),
      modes: { 'r-a': 'RW' },
      replicas: [evicted('a')],
      actions: [],
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const out = next(row.volume, {
        now: NOW,
        engine: engine(row.modes),
        replicas: row.replicas,
        settings: { ...DEFAULT_VOLUME_SETTINGS },
      });
      expect(out.actions.filter((a) => a.kind === 'createReplica' || a.kind === 'deleteReplica')).toEqual(
        row.actions,
      );
      expect(out.status.robustness).toBe('healthy');
    });
  }
});

function node(o: { evict?: boolean; diskEvict?: boolean } = {}): Node {
  return {
    apiVersion: 'longhorn.io/v1beta2',
    kind: 'Node',
    metadata: { name: 'n1', namespace: 'longhorn-system' },
    spec: {
      name: 'n1',
      evictionRequested: o.evict ?? false,
      disks: {
        d1: { path: '/d1', evictionRequested: o.diskEvict ?? false },
        d2: { path: '/d2', evictionRequested: false },
      },
    },
    status: {
      diskStatus: { d1: { diskUUID: 'uuid-1' }, d2: { diskUUID: 'uuid-2' } },
    },
  } as Node;
}

function lhReplica(name: string, diskID: string, evictionRequested = false, nodeID = 'n1'): Replica {
  return {
    apiVersion: 'longhorn.io/v1beta2',
    kind: 'Replica',
    metadata: { name, namespace: 'longhorn-system' },
    spec: { nodeID, diskID, evictionRequested, volumeName: 'vol' },
  } as Replica;
}

describe('which replicas a node evicts', () => {
  it.each([
    ['no request', {}, 'uuid-1', false],
    ['the node asks: every replica on it', { evict: true }, 'uuid-2', true],
    ['its disk asks', { diskEvict: true }, 'uuid-1', true],
    ['another disk asks', { diskEvict: true }, 'uuid-2', false],
    ['a disk the node does not know', { diskEvict: true }, 'uuid-9', false],
  ] as const)('%s', (_name, o, disk, want) => {
    expect(shouldEvictReplica(node(o), lhReplica('r', disk))).toBe(want);
  });

  it('changes only what differs, on this node, and cancels a withdrawn request', () => {
    const rs = [
      lhReplica('r1', 'uuid-1', false),
      lhReplica('r2', 'uuid-2', true),
      lhReplica('r3', 'uuid-1', true),
      lhReplica('r4', 'uuid-1', false, 'n2'),
    ];
    const changes = evictionChanges(node({ diskEvict: true }), rs).map(([r, v]) => [r.metadata.name, v]);
    expect(changes).toEqual([
      ['r1', true],
      ['r2', false],
    ]);
  });
});

function engineView(o: Partial<EngineVolumeView> = {}): EngineVolumeView {
  return {
    name: 'vol',
    size: G,
    robustness: 'healthy',
    frontend: '',
    generation: 1,
    replicas: [
      {
        id: 'r-a',
        address: 'a:1',
        mode: 'RW',
        error: '',
        rebuilding: false,
        rebuildBytesDone: 0,
        rebuildBytesTotal: 0,
        rebuildPercent: 0,
      },
    ],
    ...o,
  };
}

describe('maintenance mode on a running engine', () => {
  it.each([
    [true, 'nbd://x:1', 'stop'],
    [true, '', undefined],
    [false, '', 'start'],
    [false, 'nbd://x:1', undefined],
  ] as const)('disableFrontend %s with endpoint %j: %s', (disable, endpoint, want) => {
    expect(frontendChange(disable, endpoint)).toBe(want);
  });

  const req = { id: 'abc', snapshot: 's1' };
  it('reverts only with the frontend down, no rebuild, and a snapshot that exists', () => {
    const facts = { volume: 'vol', disableFrontend: true, view: engineView(), snapshots: ['s1', 's2'] };
    expect(revertRefusal(req, facts)).toBeUndefined();
    expect(revertRefusal(req, { ...facts, disableFrontend: false })).toMatch(
      /^volume vol is attached with its frontend: revert only in maintenance mode/,
    );
    expect(revertRefusal(req, { ...facts, view: engineView({ frontend: 'nbd://x:1' }) })).toMatch(
      /with its frontend/,
    );
    const rebuilding = engineView();
    rebuilding.replicas = [...rebuilding.replicas, { ...rebuilding.replicas[0]!, id: 'r-b', mode: 'WO' }];
    expect(revertRefusal(req, { ...facts, view: rebuilding })).toBe(
      'volume vol is rebuilding a replica: revert once the rebuild is done',
    );
    expect(revertRefusal(req, { ...facts, snapshots: ['s2'] })).toBe('volume vol has no snapshot s1');
  });

  it('the answer withdraws the request and names it', () => {
    const patch = revertAnswerPatch({ ...req, error: '', doneAt: NOW_ISO });
    expect(patch).toEqual({
      metadata: {
        annotations: {
          'longhorn-ts.io/snapshot-revert-request': null,
          'longhorn-ts.io/snapshot-revert-result': JSON.stringify({
            id: 'abc',
            snapshot: 's1',
            error: '',
            doneAt: NOW_ISO,
          }),
        },
      },
    });
  });
});

describe('the eviction ticket of a volume', () => {
  it('is wanted while a replica waits for eviction and the scheduler has a disk for its successor', () => {
    let asked = 0;
    const ask = (ok: boolean) => () => {
      asked++;
      return ok;
    };
    const evicting = [lhReplica('r1', 'uuid-1', true), lhReplica('r2', 'uuid-2')];
    expect(wantsEvictionTicket(evicting, false, ask(true))).toBe(true);
    expect(wantsEvictionTicket(evicting, false, ask(false))).toBe(false);
    expect(asked).toBe(2);
    // Filed: kept while the replacement is built, though the scheduler has no room for another.
    expect(wantsEvictionTicket(evicting, true, ask(false))).toBe(true);
    expect(asked).toBe(2);
    const none = [lhReplica('r1', 'uuid-1'), lhReplica('r2', 'uuid-2')];
    expect(wantsEvictionTicket(none, true, ask(true))).toBe(false);
    const going = {
      ...lhReplica('r1', 'uuid-1', true),
      metadata: { name: 'r1', deletionTimestamp: NOW_ISO },
    };
    expect(wantsEvictionTicket([going as Replica], true, ask(true))).toBe(false);
    expect(asked).toBe(2);
    expect(evictionTicketId('vol')).toBe('volume-eviction-controller-vol');
  });
});
