import type { Node, Replica } from '@longhorn-ts/api';
import { describe, expect, it } from 'vitest';
import { defaultDiskName } from '../../src/controllers/node-controller.js';
import { defaultNodeSpec, nodeStatus, nodeStatusChanged } from '../../src/controllers/node-status.js';

const NOW = '2026-01-01T00:00:00Z';

function node(): Node {
  return {
    apiVersion: 'longhorn.io/v1beta2',
    kind: 'Node',
    metadata: { name: 'node-1', namespace: 'longhorn-system' },
    spec: defaultNodeSpec('node-1', 'default-disk-x', '/data/node-1', 300),
  };
}

const replica = (name: string, nodeID: string, diskID: string, size: number): Replica => ({
  apiVersion: 'longhorn.io/v1beta2',
  kind: 'Replica',
  metadata: { name },
  spec: { nodeID, diskID, volumeSize: String(size) },
});

const facts = {
  live: true,
  cordoned: false,
  zone: 'zone-a',
  region: 'region-1',
  disks: { 'default-disk-x': { uuid: 'u1', space: { maximum: 1000, available: 600 } } },
  replicas: [
    replica('a', 'node-1', 'u1', 100),
    replica('b', 'node-1', 'u1', 50),
    replica('c', 'node-2', 'u1', 999),
  ],
  minimalAvailablePercentage: 25,
  now: NOW,
};

describe('nodeStatus', () => {
  it('a default node: Ready and Schedulable, disk space from statfs, scheduled from its replicas', () => {
    const s = nodeStatus(node(), facts);
    expect(s.zone).toBe('zone-a');
    expect(s.region).toBe('region-1');
    expect(s.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Ready', 'True', ''],
      ['Schedulable', 'True', ''],
    ]);
    expect(s.diskStatus?.['default-disk-x']).toMatchObject({
      diskUUID: 'u1',
      storageMaximum: 1000,
      storageAvailable: 600,
      storageScheduled: 150,
      scheduledReplica: { a: 100, b: 50 },
      diskPath: '/data/node-1',
    });
    expect(s.diskStatus?.['default-disk-x']?.conditions?.map((c) => [c.type, c.status])).toEqual([
      ['Ready', 'True'],
      ['Schedulable', 'True'],
    ]);
  });

  it('disk pressure at or below the minimal available percentage; no disk info is not Ready', () => {
    const low = nodeStatus(node(), {
      ...facts,
      disks: { 'default-disk-x': { uuid: 'u1', space: { maximum: 1000, available: 250 } } },
    });
    const sched = low.diskStatus?.['default-disk-x']?.conditions?.find((c) => c.type === 'Schedulable');
    expect(sched).toMatchObject({ status: 'False', reason: 'DiskPressure' });
    const none = nodeStatus(node(), { ...facts, disks: { 'default-disk-x': { uuid: '', error: 'ENOENT' } } });
    expect(none.diskStatus?.['default-disk-x']?.conditions?.[0]).toMatchObject({
      type: 'Ready',
      status: 'False',
      reason: 'NoDiskInfo',
    });
  });

  it('an operator gone: Ready False ManagerPodDown; cordoned: Schedulable False', () => {
    const s = nodeStatus(node(), { ...facts, live: false, cordoned: true });
    expect(s.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Ready', 'False', 'ManagerPodDown'],
      ['Schedulable', 'False', 'KubernetesNodeCordoned'],
    ]);
  });

  it('transition times stay while the status does; free space churn below 1 MiB is no change', () => {
    const first = nodeStatus(node(), facts);
    const later = nodeStatus({ ...node(), status: first }, { ...facts, now: '2026-01-01T01:00:00Z' });
    expect(later.conditions?.[0]?.lastTransitionTime).toBe(NOW);
    expect(nodeStatusChanged(first, later)).toBe(false);
    const churn = nodeStatus(
      { ...node(), status: first },
      {
        ...facts,
        disks: { 'default-disk-x': { uuid: 'u1', space: { maximum: 1000, available: 700 } } },
      },
    );
    expect(nodeStatusChanged(first, churn)).toBe(false);
    expect(nodeStatusChanged(undefined, first)).toBe(true);
  });

  it('the default disk name is stable per path', () => {
    expect(defaultDiskName('/data/node-1')).toBe(defaultDiskName('/data/node-1'));
    expect(defaultDiskName('/data/node-1')).not.toBe(defaultDiskName('/data/node-2'));
    expect(defaultDiskName('/data/node-1')).toMatch(/^default-disk-[0-9a-f]{16}$/);
  });
});
