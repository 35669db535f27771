import type { Replica, Setting, SnapshotStatus } from '@longhorn-ts/api';
import type { SnapshotView } from '@longhorn-ts/dataplane/engine/engine-client';
import { describe, expect, it } from 'vitest';
import { Dispatcher } from '../../src/controllers/dispatcher.js';
import { Expectations } from '../../src/controllers/expectations.js';
import { replicaDir, replicaDisk, replicaStatus } from '../../src/controllers/replica-controller.js';
import { settingVerdict } from '../../src/controllers/setting-controller.js';
import { SettingsStore } from '../../src/controllers/settings-store.js';
import { snapshotStatus, snapshotsToAdopt } from '../../src/controllers/snapshot-controller.js';
import { WorkQueue } from '../../src/runtime/work-queue.js';

const setting = (name: string, value: string): Setting => ({
  apiVersion: 'longhorn.io/v1beta2',
  kind: 'Setting',
  metadata: { name, namespace: 'longhorn-system' },
  value,
});

describe('Settings', () => {
  it('a valid value is applied; a bad one is refused with the reason', () => {
    expect(settingVerdict(setting('default-replica-count', '2'))).toEqual({ applied: true });
    const bad = settingVerdict(setting('default-replica-count', '21'));
    expect(bad.applied).toBe(false);
    expect(bad.error).toMatch(/21 is above the maximum 20/);
    expect(settingVerdict(setting('no-such-setting', '1')).error).toMatch(/unknown setting/);
  });
  it('typed values; an invalid or missing one reads as the default', () => {
    const objects = new Map([
      ['default-replica-count', setting('default-replica-count', '2')],
      ['auto-salvage', setting('auto-salvage', 'maybe')],
    ]);
    const store = new SettingsStore({ get: (n) => objects.get(n) });
    expect(store.get('default-replica-count')).toBe(2);
    expect(store.get('auto-salvage')).toBe(true);
    expect(store.volume()).toEqual({
      autoSalvage: true,
      replicaReplenishmentWaitInterval: 600,
      concurrentReplicaRebuildPerNodeLimit: 5,
    });
    expect(store.sched()).toMatchObject({
      overProvisioningPercentage: 100,
      minimalAvailablePercentage: 25,
      replicaSoftAntiAffinity: false,
    });
  });
});

describe('Replica', () => {
  const r: Replica = {
    apiVersion: 'longhorn.io/v1beta2',
    kind: 'Replica',
    metadata: { name: 'v-r-1' },
    spec: { nodeID: 'node-1', diskID: 'u1', dataDirectoryName: 'v-r-1' },
  };
  it('its disk by UUID, its directory under <disk>/replicas', () => {
    const node = {
      spec: { disks: { d1: { path: '/data' } } },
      status: { diskStatus: { d1: { diskUUID: 'u1' } } },
    } as never;
    expect(replicaDisk(node, r)).toEqual({ name: 'd1', path: '/data' });
    expect(replicaDisk(undefined, r)).toBeUndefined();
    expect(replicaDir('/data', r)).toBe('/data/replicas/v-r-1');
  });
  it.each([
    [{ open: true, desire: 'running' }, 'running', '127.0.0.11', 9502],
    [{ open: false, desire: 'running' }, 'starting', '', 0],
    [{ open: true, desire: 'stopped' }, 'stopping', '', 0],
    [{ open: false, desire: 'stopped' }, 'stopped', '', 0],
    [{ open: false, desire: 'running', serverError: 'boom' }, 'error', '', 0],
  ])('%j -> %s', (facts, state, ip, port) => {
    const s = replicaStatus(undefined, {
      node: 'node-1',
      ip: '127.0.0.11',
      serverAddress: '127.0.0.11:9502',
      ...facts,
    });
    expect(s).toMatchObject({
      currentState: state,
      ip,
      storageIP: ip,
      port,
      ownerID: 'node-1',
      instanceManagerName: 'instance-manager-node-1',
    });
  });
});

describe('Snapshot', () => {
  const view: SnapshotView = {
    name: 's1',
    parent: 'rebuild-1',
    children: ['head-3'],
    removed: false,
    userCreated: true,
    created: '2026-01-01T00:00:00Z',
    labels: { a: 'b' },
    size: 4096 * 1024,
    allocatedBytes: 8192,
    head: false,
  };
  it('status from the engine: parent, children (head as volume-head), size, ready', () => {
    expect(snapshotStatus(undefined, view, { node: 'node-1', volumeSize: 1024, head: 'head-3' })).toEqual({
      ownerID: 'node-1',
      parent: 'rebuild-1',
      children: { 'volume-head': true },
      markRemoved: false,
      userCreated: true,
      creationTime: '2026-01-01T00:00:00Z',
      size: 8192,
      labels: { a: 'b' },
      restoreSize: 1024,
      readyToUse: true,
      error: '',
    } satisfies SnapshotStatus);
  });
  it('missing from the engine: not ready, with the reason', () => {
    expect(
      snapshotStatus({ creationTime: 'x' }, undefined, { node: 'n', volumeSize: 1, head: '', error: 'gone' }),
    ).toMatchObject({
      readyToUse: false,
      error: 'gone',
      creationTime: 'x',
    });
  });
  it('CRs for engine snapshots without one: not the head, not removed ones, only valid names', () => {
    expect(
      snapshotsToAdopt(
        { 'volume-head': {}, s1: {}, s2: {}, gone: { removed: true }, Bad_Name: {} },
        new Set(['s1']),
      ),
    ).toEqual(['s2']);
  });
});

describe('Expectations', () => {
  it('holds a volume until its creates and deletes show in the cache, or lapse', () => {
    const e = new Expectations();
    const cache = new Set<string>();
    const exists = (kind: string, name: string) => cache.has(`${kind}/${name}`);
    e.expect('v', 'Replica', 'r1', 'create', 0);
    e.expect('v', 'Engine', 'e0', 'delete', 0);
    cache.add('Engine/e0');
    expect(e.satisfied('v', 10, exists)).toBe(false);
    cache.add('Replica/r1');
    expect(e.satisfied('v', 20, exists)).toBe(false);
    cache.delete('Engine/e0');
    expect(e.satisfied('v', 30, exists)).toBe(true);
    e.expect('w', 'Replica', 'never', 'create', 0);
    expect(e.satisfied('w', 31_000, exists)).toBe(true);
  });
});

describe('Dispatcher', () => {
  it('routes one event to every controller that maps it, by key', async () => {
    const d = new Dispatcher();
    const volumes = new WorkQueue();
    const replicas = new WorkQueue();
    d.addQueue('volume', volumes);
    d.addQueue('replica', replicas);
    d.watch<{ metadata: { name: string }; spec: { volumeName: string } }>('Replica', 'volume', (r) => [
      `ns/${r.spec.volumeName}`,
    ]);
    d.watch<{ metadata: { name: string } }>('Replica', 'replica', (r) => [`ns/${r.metadata.name}`]);
    for (const k of d.keysOf('Replica')({ metadata: { name: 'v-r-1' }, spec: { volumeName: 'v' } } as never))
      d.enqueue(k);
    expect(await volumes.get()).toBe('ns/v');
    expect(await replicas.get()).toBe('ns/v-r-1');
  });
});

describe('sameJson', () => {
  it('ignores key order and undefined fields, not array order or values', async () => {
    const { sameJson } = await import('../../src/controllers/same-json.js');
    expect(sameJson({ b: { y: 1, x: [1, 2] }, a: 1 }, { a: 1, b: { x: [1, 2], y: 1 }, c: undefined })).toBe(
      true,
    );
    expect(sameJson({ x: [1, 2] }, { x: [2, 1] })).toBe(false);
    expect(sameJson({ a: 1 }, { a: 2 })).toBe(false);
  });
});
