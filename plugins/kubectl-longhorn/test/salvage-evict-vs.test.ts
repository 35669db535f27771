import type { Node } from '@longhorn-ts/api';
import { describe, expect, it } from 'vitest';
import { evictionPatch, replicasLeft, stuckVolumes } from '../src/kube/eviction.js';
import { maintenanceNode } from '../src/kube/revert-check.js';
import { salvagePlan } from '../src/kube/salvage-plan.js';
import {
  ownedSnapshotRefusal,
  parseNamespacedName,
  parseSnapHandle,
  pickSnapshotClass,
  snapshotOwners,
  type VolumeSnapshotClass,
  type VolumeSnapshotContent,
  volumeSnapshotObject,
} from '../src/kube/volume-snapshots.js';
import { renderNodeList, schedulingOf } from '../src/render/node.js';
import { renderSnapshotRows } from '../src/render/snapshot-list.js';
import { renderSnapshotTree, snapshotNodes } from '../src/render/snapshot-tree.js';
import { NOW, node, replica, snapshot, T0, volume } from './fixtures.js';

/** A node whose disk has a UUID and a Schedulable condition. */
function diskNode(name: string, ready = true, schedulable = true): Node {
  const n = node(name, 'zone-a');
  n.status = {
    ...n.status,
    conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    diskStatus: {
      [`disk-${name}`]: {
        diskUUID: `uuid-${name}`,
        scheduledReplica: {},
        conditions: [{ type: 'Schedulable', status: schedulable ? 'True' : 'False' }],
      },
    },
  };
  return n;
}

const faulted = volume('vol', { state: 'detached', robustness: 'faulted', currentNodeID: '' });
const failedReplica = (name: string, nodeName: string, over = {}) =>
  replica(name, nodeName, { diskID: `uuid-${nodeName}`, failedAt: T0, ...over });

describe('salvage plan', () => {
  const nodes = [diskNode('node-1'), diskNode('node-2', false), diskNode('node-3', true, false)];
  const replicas = [
    failedReplica('r1', 'node-1'),
    failedReplica('r2', 'node-2'),
    failedReplica('r3', 'node-3'),
    failedReplica('r4', 'node-1', { healthyAt: '' }),
  ];

  it('without names: every failed replica that held data on an up node and a schedulable disk', () => {
    expect(salvagePlan(faulted, replicas, nodes, [])).toEqual({ replicas: ['r1'] });
  });

  it('named replicas are checked as Longhorn checks them', () => {
    expect(salvagePlan(faulted, replicas, nodes, ['r1'])).toEqual({ replicas: ['r1'] });
    expect(salvagePlan(faulted, replicas, nodes, ['r2'])).toEqual({
      code: 'REFUSED',
      refusal: 'cannot salvage volume vol: node node-2 of replica r2 is down or gone',
    });
    expect(salvagePlan(faulted, replicas, nodes, ['r3'])).toEqual({
      code: 'REFUSED',
      refusal: 'cannot salvage volume vol: disk uuid-node-3 on node node-3 is unschedulable for replica r3',
    });
    expect(salvagePlan(faulted, replicas, nodes, ['r4'])).toEqual({
      code: 'REFUSED',
      refusal: "cannot salvage volume vol: replica r4 never held the volume's data",
    });
    expect(salvagePlan(faulted, replicas, nodes, ['nope'])).toEqual({
      code: 'NOT_FOUND',
      refusal: 'volume vol has no replica "nope"; its replicas: r1, r2, r3, r4',
    });
  });

  it('only a faulted, detached volume', () => {
    expect(salvagePlan(volume('vol'), replicas, nodes, [])).toEqual({
      code: 'REFUSED',
      refusal: 'volume vol is healthy, not faulted: only a faulted volume is salvaged',
    });
    const detaching = volume('vol', { state: 'detaching', robustness: 'faulted' });
    expect(salvagePlan(detaching, replicas, nodes, [])).toMatchObject({
      refusal: 'volume vol is detaching: a faulted volume is salvaged once detached; wait for it to detach',
    });
  });

  it('says why when nothing can come back', () => {
    expect(salvagePlan(faulted, [failedReplica('r2', 'node-2')], nodes, [])).toEqual({
      code: 'REFUSED',
      refusal:
        'cannot salvage volume vol: no failed replica that held its data can come back (node node-2 of replica r2 is down or gone)',
    });
  });
});

describe('eviction', () => {
  it('a request turns scheduling off in the same patch; a cancellation only withdraws it', () => {
    expect(evictionPatch(undefined, false)).toEqual({
      spec: { evictionRequested: true, allowScheduling: false },
    });
    expect(evictionPatch('d1', false)).toEqual({
      spec: { disks: { d1: { evictionRequested: true, allowScheduling: false } } },
    });
    expect(evictionPatch(undefined, true)).toEqual({ spec: { evictionRequested: false } });
    expect(evictionPatch('d1', true)).toEqual({ spec: { disks: { d1: { evictionRequested: false } } } });
  });

  it('node list says evicting for a node or disk under eviction', () => {
    expect(schedulingOf({ allowScheduling: false, evictionRequested: true })).toBe('evicting');
    expect(schedulingOf({ allowScheduling: false })).toBe('disabled');
    expect(schedulingOf({})).toBe('enabled');
    const n = node('node-2', 'zone-b', {}, { allowScheduling: false, evictionRequested: true });
    expect(renderNodeList([n], false, NOW).split('\n')[1]).toMatch(
      /^node-2\s+True\s+True\s+evicting\s+zone-b\s/,
    );
  });

  it('replicas left: by Replica CRs and by the disks scheduledReplica, on the node or one disk', () => {
    const n = diskNode('node-1');
    n.status!.diskStatus!['disk-node-1']!.scheduledReplica = { 'r-listed': 1 };
    n.status!.diskStatus!['disk-other'] = { diskUUID: 'uuid-other', scheduledReplica: { 'r-other': 1 } };
    const rs = [
      replica('r1', 'node-1', { diskID: 'uuid-node-1' }),
      replica('r2', 'node-1', { diskID: 'uuid-other' }),
      replica('r3', 'node-2', { diskID: 'uuid-node-2' }),
    ];
    expect(replicasLeft(n, rs)).toEqual(['r-listed', 'r-other', 'r1', 'r2']);
    expect(replicasLeft(n, rs, 'disk-node-1')).toEqual(['r-listed', 'r1']);
    expect(stuckVolumes(['r1', 'r3'], rs, new Set(['vol-x']))).toEqual(['vol']);
  });
});

describe('revert in maintenance mode', () => {
  it('attaches a detached volume on the first ready node with a healthy replica', () => {
    const nodes = [diskNode('node-1', false), diskNode('node-2'), diskNode('node-3')];
    const rs = [
      replica('r1', 'node-1'),
      replica('r3', 'node-3'),
      replica('r2', 'node-2', { failedAt: T0 }),
      replica('r4', 'node-2', { healthyAt: '' }),
    ];
    expect(maintenanceNode(rs, nodes)).toBe('node-3');
    expect(maintenanceNode([replica('r1', 'node-1')], nodes)).toBeUndefined();
  });
});

const content = (
  name: string,
  handle: string,
  ref: { namespace: string; name: string },
  driver = 'driver.longhorn.io',
): VolumeSnapshotContent => ({
  metadata: { name },
  spec: { driver, deletionPolicy: 'Delete', volumeSnapshotRef: ref },
  status: { snapshotHandle: handle, readyToUse: true },
});

describe('VolumeSnapshots', () => {
  const contents = [
    content('c1', 'snap://vol/snapshot-1', { namespace: 'default', name: 'vs-1' }),
    content('c2', 'bak://vol/backup-1', { namespace: 'default', name: 'vs-bak' }),
    content('c3', 'snap://other/snapshot-3', { namespace: 'apps', name: 'vs-3' }),
    content('c4', 'snap://vol/snapshot-4', { namespace: 'apps', name: 'vs-4' }, 'other.csi.io'),
  ];

  it('maps Longhorn snapshots to the VolumeSnapshots of this driver with a snap:// handle', () => {
    expect([...snapshotOwners(contents, 'vol')]).toEqual([
      [
        'snapshot-1',
        {
          volumeSnapshot: 'default/vs-1',
          namespace: 'default',
          name: 'vs-1',
          content: 'c1',
          deletionPolicy: 'Delete',
        },
      ],
    ]);
    expect(parseSnapHandle('snap://v/s')).toEqual({ volume: 'v', snapshot: 's' });
    expect(parseSnapHandle('bak://v/b')).toBeUndefined();
    expect(parseSnapHandle('snap://v/s/x')).toBeUndefined();
  });

  it('reads NAMESPACE/NAME and NAME', () => {
    expect(parseNamespacedName('data')).toEqual({ namespace: 'default', name: 'data' });
    expect(parseNamespacedName('apps/data')).toEqual({ namespace: 'apps', name: 'data' });
    for (const bad of ['', 'a/b/c', 'Data', '/data', 'apps/'])
      expect(parseNamespacedName(bad)).toBeUndefined();
  });

  const cls = (
    name: string,
    type?: string,
    dflt = false,
    driver = 'driver.longhorn.io',
  ): VolumeSnapshotClass => ({
    metadata: {
      name,
      ...(dflt && { annotations: { 'snapshot.storage.kubernetes.io/is-default-class': 'true' } }),
    },
    driver,
    ...(type !== undefined && { parameters: { type } }),
  });

  it('picks the snap class: named, the default, the only one; says why not', () => {
    const classes = [
      cls('lh-snap', 'snap'),
      cls('lh-bak', 'bak'),
      cls('lh-plain'),
      cls('other', 'snap', true, 'x.io'),
    ];
    expect(pickSnapshotClass(classes)).toBe('lh-snap');
    expect(pickSnapshotClass([...classes, cls('lh-snap2', 'snap', true)])).toBe('lh-snap2');
    expect(pickSnapshotClass([...classes, cls('lh-snap2', 'snap')])).toEqual({
      error:
        'several VolumeSnapshotClasses of driver.longhorn.io make snapshots (lh-snap, lh-snap2); pass --class',
      code: 'FAILED',
    });
    expect(pickSnapshotClass([cls('lh-bak', 'bak')])).toEqual({
      error:
        'no VolumeSnapshotClass of driver.longhorn.io with parameters.type snap; create one or pass --class',
      code: 'FAILED',
    });
    expect(pickSnapshotClass(classes, 'lh-snap')).toBe('lh-snap');
    expect(pickSnapshotClass(classes, 'lh-plain')).toEqual({
      error:
        'VolumeSnapshotClass lh-plain makes backups (type bak), not snapshots; use a class with parameters.type snap',
      code: 'USAGE',
    });
    expect(pickSnapshotClass(classes, 'other')).toEqual({
      error: 'VolumeSnapshotClass other belongs to driver x.io, not driver.longhorn.io',
      code: 'USAGE',
    });
    expect(pickSnapshotClass(classes, 'nope')).toEqual({
      error: 'VolumeSnapshotClass "nope" not found',
      code: 'NOT_FOUND',
    });
  });

  it('builds the VolumeSnapshot and the refusal for deleting its snapshot directly', () => {
    expect(volumeSnapshotObject('vs-1', 'apps', 'data', 'lh-snap')).toEqual({
      apiVersion: 'snapshot.storage.k8s.io/v1',
      kind: 'VolumeSnapshot',
      metadata: { name: 'vs-1', namespace: 'apps' },
      spec: { volumeSnapshotClassName: 'lh-snap', source: { persistentVolumeClaimName: 'data' } },
    });
    const owner = snapshotOwners(contents, 'vol').get('snapshot-1')!;
    expect(ownedSnapshotRefusal('snapshot-1', owner)).toBe(
      'snapshot snapshot-1 belongs to VolumeSnapshot default/vs-1: delete it through the VolumeSnapshot ' +
        '(kubectl delete volumesnapshot -n default vs-1, or add --volume-snapshot to this command)',
    );
  });

  it('snapshot list marks the owned snapshot in the tree and in -o wide', () => {
    const snaps = [
      snapshot('s1', '', ['snapshot-1'], '2026-01-01T23:10:00Z'),
      snapshot('snapshot-1', 's1', ['volume-head'], '2026-01-01T23:20:00Z'),
    ];
    const owners = new Map([['snapshot-1', 'default/vs-1']]);
    expect(renderSnapshotTree(snapshotNodes(snaps), NOW, owners)).toEqual([
      's1  4 KiB  50m  (user)',
      '└── snapshot-1  4 KiB  40m  (user)  VolumeSnapshot default/vs-1',
      '    └── volume-head',
    ]);
    expect(renderSnapshotRows(snaps, NOW, undefined, owners).split('\n')).toEqual([
      'NAME         PARENT   SIZE    CREATED-BY   READY   REMOVED   AGE   VOLUMESNAPSHOT',
      's1           -        4 KiB   user         true    false     50m   -',
      'snapshot-1   s1       4 KiB   user         true    false     40m   default/vs-1',
    ]);
  });
});
