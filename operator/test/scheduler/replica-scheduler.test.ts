import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SCHED_SETTINGS,
  effectiveAntiAffinity,
  type SchedDisk,
  type SchedNode,
  type SchedReplica,
  type ScheduleRequest,
  type SchedVolume,
  scheduleReplicas,
} from '../../src/scheduler/replica-scheduler.js';

const G = 2 ** 30;

function disk(name: string, o: Partial<SchedDisk> = {}): SchedDisk {
  return {
    id: `uuid-${name}`,
    name,
    path: `/data/${name}`,
    tags: [],
    allowScheduling: true,
    evictionRequested: false,
    schedulable: true,
    storageMaximum: 100 * G,
    storageAvailable: 100 * G,
    storageReserved: 0,
    storageScheduled: 0,
    ...o,
  };
}

function node(name: string, zone: string, o: Partial<SchedNode> = {}): SchedNode {
  return {
    name,
    zone,
    region: 'r1',
    tags: [],
    ready: true,
    schedulable: true,
    allowScheduling: true,
    disks: [disk(`${name}-d1`)],
    ...o,
  };
}

function replica(name: string, nodeID: string, o: Partial<SchedReplica> = {}): SchedReplica {
  return {
    name,
    nodeID,
    diskID: nodeID === '' ? '' : `uuid-${nodeID}-d1`,
    failedAt: '',
    rebuildRetryCount: 0,
    evictionRequested: false,
    deleting: false,
    ...o,
  };
}

function volume(o: Partial<SchedVolume> = {}): SchedVolume {
  return {
    name: 'vol',
    size: 10 * G,
    actualSize: 0,
    numberOfReplicas: 3,
    nodeSelector: [],
    diskSelector: [],
    replicaSoftAntiAffinity: 'ignored',
    replicaZoneSoftAntiAffinity: 'ignored',
    replicaDiskSoftAntiAffinity: 'ignored',
    ...o,
  };
}

const threeZones = () => [node('a', 'z1'), node('b', 'z2'), node('c', 'z3')];

interface Row {
  name: string;
  nodes: SchedNode[];
  replicas?: SchedReplica[];
  vol?: Partial<SchedVolume>;
  count?: number;
  extra?: Partial<ScheduleRequest>;
  /** Expected placements as "node/disk". */
  placed: string[];
  /** Expected failure reason (exact), or a pattern. */
  reason?: string | RegExp;
}

const rows: Row[] = [
  { name: 'three zones, three replicas', nodes: threeZones(), placed: ['a/a-d1', 'b/b-d1', 'c/c-d1'] },
  {
    name: 'a topology requirement keeps replicas in its zones',
    nodes: threeZones(),
    vol: { numberOfReplicas: 2, topology: [{ zone: 'z2' }, { zone: 'z3' }] },
    count: 2,
    placed: ['b/b-d1', 'c/c-d1'],
  },
  {
    name: 'a topology requirement no node meets says which',
    nodes: threeZones(),
    vol: { numberOfReplicas: 1, topology: [{ zone: 'z9', region: 'r1' }] },
    count: 1,
    placed: [],
    reason:
      "nodes are unavailable: no schedulable node is in region r1 zone z9 (the volume's topologyRequirement)",
  },
  {
    name: 'four replicas on three nodes with hard node anti-affinity',
    nodes: threeZones(),
    vol: { numberOfReplicas: 4 },
    count: 4,
    placed: ['a/a-d1', 'b/b-d1', 'c/c-d1'],
    reason: 'insufficient nodes: 4 replicas with hard node anti-affinity need 4 schedulable nodes, 3 exist',
  },
  {
    name: 'four replicas with soft node anti-affinity share the roomiest node',
    nodes: threeZones(),
    vol: { numberOfReplicas: 4, replicaSoftAntiAffinity: 'enabled' },
    count: 4,
    placed: ['a/a-d1', 'b/b-d1', 'c/c-d1', 'a/a-d1'],
  },
  {
    name: 'soft node but hard disk anti-affinity with one disk per node',
    nodes: threeZones(),
    vol: { numberOfReplicas: 4, replicaSoftAntiAffinity: 'enabled', replicaDiskSoftAntiAffinity: 'disabled' },
    count: 4,
    placed: ['a/a-d1', 'b/b-d1', 'c/c-d1'],
    reason: 'insufficient disks: 4 replicas with hard disk anti-affinity need 4 schedulable disks, 3 exist',
  },
  {
    name: 'soft node, hard disk: a second disk on a used node takes it',
    nodes: [node('a', 'z1', { disks: [disk('a-d1'), disk('a-d2')] }), node('b', 'z2')],
    vol: { replicaSoftAntiAffinity: 'enabled', replicaDiskSoftAntiAffinity: 'disabled' },
    placed: ['a/a-d1', 'b/b-d1', 'a/a-d2'],
  },
  {
    name: 'two zones: a new zone before a new node',
    nodes: [node('a', 'z1'), node('b', 'z1'), node('c', 'z2')],
    placed: ['a/a-d1', 'c/c-d1', 'b/b-d1'],
  },
  {
    name: 'two zones with hard zone anti-affinity',
    nodes: [node('a', 'z1'), node('b', 'z1'), node('c', 'z2')],
    vol: { replicaZoneSoftAntiAffinity: 'disabled' },
    placed: ['a/a-d1', 'c/c-d1'],
    reason:
      'insufficient zones: 3 replicas with hard zone anti-affinity need 3 zones with schedulable nodes, 2 exist',
  },
  {
    name: 'the zone-soft Setting turned off, the volume ignores it: hard',
    nodes: [node('a', 'z1'), node('b', 'z1')],
    vol: { numberOfReplicas: 2 },
    count: 2,
    extra: { settings: { ...DEFAULT_SCHED_SETTINGS, replicaZoneSoftAntiAffinity: false } },
    placed: ['a/a-d1'],
    reason:
      'insufficient zones: 2 replicas with hard zone anti-affinity need 2 zones with schedulable nodes, 1 exist',
  },
  {
    name: 'the zone-soft Setting turned off, the volume enables it: soft',
    nodes: [node('a', 'z1'), node('b', 'z1')],
    vol: { numberOfReplicas: 2, replicaZoneSoftAntiAffinity: 'enabled' },
    count: 2,
    extra: { settings: { ...DEFAULT_SCHED_SETTINGS, replicaZoneSoftAntiAffinity: false } },
    placed: ['a/a-d1', 'b/b-d1'],
  },
  {
    name: 'nodes without a zone label are one zone',
    nodes: [node('a', ''), node('b', ''), node('c', '')],
    vol: { replicaZoneSoftAntiAffinity: 'disabled' },
    placed: ['a/a-d1'],
    reason:
      'insufficient zones: 3 replicas with hard zone anti-affinity need 3 zones with schedulable nodes, 1 exist',
  },
  {
    name: 'a node that is not Ready is skipped',
    nodes: [node('a', 'z1', { ready: false }), node('b', 'z2'), node('c', 'z3')],
    placed: ['b/b-d1', 'c/c-d1'],
    reason: 'insufficient nodes: 3 replicas with hard node anti-affinity need 3 schedulable nodes, 2 exist',
  },
  {
    name: 'a cordoned node and one with scheduling off are skipped',
    nodes: [
      node('a', 'z1', { schedulable: false }),
      node('b', 'z2', { allowScheduling: false }),
      node('c', 'z3'),
    ],
    count: 1,
    placed: ['c/c-d1'],
  },
  {
    name: 'no node can take anything',
    nodes: [node('a', 'z1', { ready: false }), node('b', 'z2', { allowScheduling: false })],
    placed: [],
    reason: 'nodes are unavailable: none of 2 nodes is Ready, schedulable and allows scheduling',
  },
  {
    name: 'node selector picks the tagged node',
    nodes: [node('a', 'z1'), node('b', 'z2', { tags: ['ssd', 'x'] }), node('c', 'z3', { tags: ['x'] })],
    vol: { nodeSelector: ['ssd'] },
    count: 1,
    placed: ['b/b-d1'],
  },
  {
    name: 'node selector that no node satisfies',
    nodes: threeZones(),
    vol: { nodeSelector: ['ssd'] },
    placed: [],
    reason: 'tags not fulfilled: no schedulable node has the tags [ssd]',
  },
  {
    name: 'tagged nodes are kept for volumes that ask when empty selectors are not allowed',
    nodes: [node('a', 'z1', { tags: ['ssd'] })],
    count: 1,
    extra: { settings: { ...DEFAULT_SCHED_SETTINGS, allowEmptyNodeSelectorVolume: false } },
    placed: [],
    reason:
      'tags not fulfilled: every schedulable node is tagged and allow-empty-node-selector-volume is false',
  },
  {
    name: 'tagged nodes take untagged volumes by default',
    nodes: [node('a', 'z1', { tags: ['ssd'] })],
    count: 1,
    placed: ['a/a-d1'],
  },
  {
    name: 'disk selector picks the tagged disk',
    nodes: [node('a', 'z1', { disks: [disk('a-d1'), disk('a-d2', { tags: ['fast'] })] })],
    vol: { diskSelector: ['fast'] },
    count: 1,
    placed: ['a/a-d2'],
  },
  {
    name: 'disk selector that no disk satisfies',
    nodes: [node('a', 'z1', { disks: [disk('a-d1', { tags: ['slow'] })] })],
    vol: { diskSelector: ['fast'] },
    count: 1,
    placed: [],
    reason:
      'tags not fulfilled: disk a-d1 on node a: disk tags [slow] do not match volume disk selector [fast]',
  },
  {
    name: 'disks that do not allow scheduling, are evicting or unschedulable',
    nodes: [
      node('a', 'z1', {
        disks: [
          disk('a-d1', { allowScheduling: false }),
          disk('a-d2', { evictionRequested: true }),
          disk('a-d3', { schedulable: false }),
        ],
      }),
    ],
    count: 1,
    placed: [],
    reason:
      'disks are unavailable: disk a-d1 on node a: scheduling is not allowed; ' +
      'disk a-d2 on node a: eviction is requested; disk a-d3 on node a: the disk is not schedulable',
  },
  {
    name: 'a node without disks',
    nodes: [node('a', 'z1', { disks: [] })],
    count: 1,
    placed: [],
    reason: 'disks are unavailable: no disks on the schedulable nodes',
  },
  {
    name: 'every disk is full by scheduling',
    nodes: [node('a', 'z1', { disks: [disk('a-d1', { storageScheduled: 95 * G })] })],
    count: 1,
    placed: [],
    reason:
      /^insufficient storage: disk a-d1 on node a: Scheduling space condition failed: ScheduledTotal = /,
  },
  {
    name: 'space and tags both reported, storage first',
    nodes: [
      node('a', 'z1', {
        disks: [disk('a-d1', { storageAvailable: 10 * G }), disk('a-d2', { tags: ['slow'] })],
      }),
    ],
    vol: { diskSelector: [] },
    extra: { settings: { ...DEFAULT_SCHED_SETTINGS, allowEmptyDiskSelectorVolume: false } },
    count: 1,
    placed: [],
    reason:
      /^insufficient storage: disk a-d1 on node a: Actual space usage condition failed: .*; tags not fulfilled: disk a-d2 on node a: disk tags \[slow\] do not match volume disk selector \[\]$/,
  },
  {
    name: 'the most balanced node wins',
    nodes: [
      node('a', 'z1', { disks: [disk('a-d1', { storageAvailable: 50 * G })] }),
      node('b', 'z2'),
      node('c', 'z3', { disks: [disk('c-d1', { storageAvailable: 80 * G })] }),
    ],
    count: 1,
    placed: ['b/b-d1'],
  },
  {
    name: 'scheduled bytes count against a node',
    nodes: [
      node('a', 'z1', { disks: [disk('a-d1', { storageScheduled: 30 * G })] }),
      node('b', 'z2', { disks: [disk('b-d1', { storageScheduled: 20 * G })] }),
      node('c', 'z3', { disks: [disk('c-d1', { storageScheduled: 40 * G })] }),
    ],
    count: 1,
    placed: ['b/b-d1'],
  },
  {
    name: 'the roomier disk on the chosen node',
    nodes: [node('a', 'z1', { disks: [disk('a-d1', { storageAvailable: 40 * G }), disk('a-d2')] })],
    count: 1,
    placed: ['a/a-d2'],
  },
  {
    name: 'existing replicas keep their nodes',
    nodes: threeZones(),
    replicas: [replica('r1', 'a'), replica('r2', 'b')],
    count: 1,
    placed: ['c/c-d1'],
  },
  {
    name: 'a reusable failed replica still holds its node',
    nodes: threeZones(),
    replicas: [
      replica('r1', 'a'),
      replica('r2', 'b'),
      replica('r3', 'c', { failedAt: '2024-01-01T00:00:00Z' }),
    ],
    count: 1,
    placed: [],
    reason:
      'insufficient nodes: every schedulable node (3) already holds a replica and node anti-affinity is hard',
  },
  {
    name: 'once failed replicas are being replaced their node is free',
    nodes: threeZones(),
    replicas: [
      replica('r1', 'a'),
      replica('r2', 'b'),
      replica('r3', 'c', { failedAt: '2024-01-01T00:00:00Z' }),
    ],
    count: 1,
    extra: { replacingFailed: true },
    placed: ['c/c-d1'],
  },
  {
    name: 'a failed replica past its retries frees its node',
    nodes: threeZones(),
    replicas: [
      replica('r1', 'a'),
      replica('r2', 'b'),
      replica('r3', 'c', { failedAt: '2024-01-01T00:00:00Z', rebuildRetryCount: 5 }),
    ],
    count: 1,
    placed: ['c/c-d1'],
  },
  {
    name: 'a replica being deleted does not hold its node',
    nodes: threeZones(),
    replicas: [replica('r1', 'a'), replica('r2', 'b'), replica('r3', 'c', { deleting: true })],
    count: 1,
    placed: ['c/c-d1'],
  },
  {
    name: 'a replica on a down node does not hold its zone',
    nodes: [node('a', 'z1', { ready: false }), node('b', 'z1'), node('c', 'z2')],
    replicas: [replica('r1', 'a'), replica('r2', 'c')],
    vol: { replicaZoneSoftAntiAffinity: 'disabled' },
    count: 1,
    placed: ['b/b-d1'],
  },
  {
    name: 'an evicted replica may move to another disk of its node',
    nodes: [node('a', 'z1', { disks: [disk('a-d1'), disk('a-d2')] }), node('b', 'z2'), node('c', 'z3')],
    replicas: [replica('r1', 'a', { evictionRequested: true }), replica('r2', 'b'), replica('r3', 'c')],
    count: 1,
    placed: ['a/a-d2'],
  },
  {
    name: 'hard node affinity',
    nodes: threeZones(),
    replicas: [replica('r1', 'a'), replica('r2', 'b')],
    count: 1,
    extra: { hardNodeAffinity: 'c' },
    placed: ['c/c-d1'],
  },
  {
    name: 'hard node affinity to a node that cannot take it',
    nodes: threeZones(),
    count: 1,
    extra: { hardNodeAffinity: 'x' },
    placed: [],
    reason: 'hard affinity cannot be satisfied: node x is not Ready, schedulable and allowing scheduling',
  },
  {
    name: 'best-effort locality puts the first replica on the attached node',
    nodes: threeZones(),
    extra: { localNodeID: 'c' },
    placed: ['c/c-d1', 'a/a-d1', 'b/b-d1'],
  },
  {
    name: 'best-effort locality is satisfied by a live local replica',
    nodes: [node('a', 'z1'), node('b', 'z1'), node('c', 'z2')],
    replicas: [replica('r1', 'b')],
    vol: { replicaSoftAntiAffinity: 'enabled' },
    count: 1,
    extra: { localNodeID: 'b' },
    placed: ['c/c-d1'],
  },
  {
    name: 'placements in one call add up on a disk',
    nodes: [node('a', 'z1')],
    vol: { size: 40 * G, replicaSoftAntiAffinity: 'enabled' },
    placed: ['a/a-d1', 'a/a-d1'],
    reason:
      /^insufficient storage: disk a-d1 on node a: Scheduling space condition failed: ScheduledTotal = 128849018880 /,
  },
];

describe('scheduleReplicas', () => {
  it.each(rows)('$name', (row) => {
    const result = scheduleReplicas({
      volume: volume(row.vol),
      nodes: row.nodes,
      replicas: row.replicas ?? [],
      count: row.count ?? 3,
      settings: DEFAULT_SCHED_SETTINGS,
      ...row.extra,
    });
    expect(result.placements.map((p) => `${p.nodeID}/${p.diskName}`)).toEqual(row.placed);
    if (row.reason === undefined) {
      expect(result).toMatchObject({ ok: true });
    } else {
      expect(result.ok).toBe(false);
      const reason = result.ok ? '' : result.reason;
      if (typeof row.reason === 'string') expect(reason).toBe(row.reason);
      else expect(reason).toMatch(row.reason);
    }
  });

  it('does not depend on the order of its input', () => {
    const nodes = [node('c', 'z1'), node('a', 'z2'), node('d', 'z1'), node('b', 'z3')];
    const results = [nodes, [...nodes].reverse(), [nodes[2]!, nodes[0]!, nodes[3]!, nodes[1]!]].map((ns) =>
      scheduleReplicas({
        volume: volume(),
        nodes: ns,
        replicas: [],
        count: 3,
        settings: DEFAULT_SCHED_SETTINGS,
      }),
    );
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
    expect(results[0]!.placements.map((p) => p.nodeID)).toEqual(['a', 'b', 'c']);
  });

  it('reports the disk id and path of a placement', () => {
    const result = scheduleReplicas({
      volume: volume(),
      nodes: [node('a', 'z1')],
      replicas: [],
      count: 1,
      settings: DEFAULT_SCHED_SETTINGS,
    });
    expect(result).toEqual({
      ok: true,
      placements: [{ nodeID: 'a', diskID: 'uuid-a-d1', diskName: 'a-d1', diskPath: '/data/a-d1' }],
    });
  });
});

describe('effectiveAntiAffinity', () => {
  it.each([
    { vol: 'ignored', setting: true, soft: true },
    { vol: 'ignored', setting: false, soft: false },
    { vol: 'enabled', setting: false, soft: true },
    { vol: 'disabled', setting: true, soft: false },
  ] as const)('volume $vol over Setting $setting -> soft $soft', ({ vol, setting, soft }) => {
    const settings = {
      ...DEFAULT_SCHED_SETTINGS,
      replicaSoftAntiAffinity: setting,
      replicaZoneSoftAntiAffinity: setting,
      replicaDiskSoftAntiAffinity: setting,
    };
    const v = volume({
      replicaSoftAntiAffinity: vol,
      replicaZoneSoftAntiAffinity: vol,
      replicaDiskSoftAntiAffinity: vol,
    });
    expect(effectiveAntiAffinity(v, settings)).toEqual({ nodeSoft: soft, zoneSoft: soft, diskSoft: soft });
  });
});
