import type { Engine, Node, RecurringJob, Replica, Snapshot, Volume } from '@longhorn-ts/api';
import { describe, expect, it } from 'vitest';
import { staticContext } from '../src/admission/context.js';
import { applyPatch, diffToPatch } from '../src/admission/json-patch.js';
import { mutateRequest } from '../src/admit.js';
import { request, volume } from './fixtures.js';

const ctx = staticContext();
const MiB = 1024 * 1024;

function mutated<T>(kind: string, object: T, old?: T, c = ctx): T {
  const result = mutateRequest(request(kind, old ? 'UPDATE' : 'CREATE', object, old), c);
  expect(result.verdict.allowed).toBe(true);
  return applyPatch(object, result.patch);
}

describe('Volume mutator', () => {
  const bare: Volume = {
    apiVersion: 'longhorn.io/v1beta2',
    kind: 'Volume',
    metadata: { name: 'vol-1', namespace: 'longhorn-system' },
    spec: { size: '1000000' },
  };

  it('fills Longhorn defaults on CREATE', () => {
    const out = mutated('Volume', bare);
    expect(out.spec).toEqual({
      size: String(2 * MiB),
      numberOfReplicas: 3,
      dataLocality: 'disabled',
      accessMode: 'rwo',
      frontend: 'blockdev',
      staleReplicaTimeout: 30,
      backupTargetName: 'default',
      backupCompressionMethod: 'lz4',
      snapshotMaxCount: 250,
      replicaAutoBalance: 'ignored',
      diskSelector: [],
      nodeSelector: [],
      snapshotDataIntegrity: 'ignored',
      restoreVolumeRecurringJob: 'ignored',
      dataEngine: 'v1',
      unmapMarkSnapChainRemoved: 'ignored',
      replicaSoftAntiAffinity: 'ignored',
      replicaZoneSoftAntiAffinity: 'ignored',
      replicaDiskSoftAntiAffinity: 'ignored',
      freezeFilesystemForSnapshot: 'ignored',
      offlineRebuilding: 'ignored',
      backupBlockSize: String(2 * MiB),
    });
    expect(out.metadata.finalizers).toEqual(['longhorn.io']);
    expect(out.metadata.labels).toEqual({ 'longhorn.io/backup-target': 'default', longhornvolume: 'vol-1' });
  });

  it('takes defaults from Settings', () => {
    const c = staticContext({
      settings: {
        'default-replica-count': '2',
        'default-data-locality': 'best-effort',
        'snapshot-max-count': '100',
        'backup-compression-method': 'gzip',
        'default-backup-block-size': '16',
      },
    });
    const out = mutated('Volume', bare, undefined, c);
    expect(out.spec).toMatchObject({
      numberOfReplicas: 2,
      dataLocality: 'best-effort',
      snapshotMaxCount: 100,
      backupCompressionMethod: 'gzip',
      backupBlockSize: String(16 * MiB),
    });
  });

  it('gives a new volume the default-volume-qos limits only when its spec has none', () => {
    const c = staticContext({ settings: { 'default-volume-qos': 'iops=500,writeBandwidth=1048576' } });
    expect(mutated('Volume', bare, undefined, c).spec.qos).toEqual({ iops: 500, writeBandwidth: 1048576 });
    const own = mutated('Volume', { ...bare, spec: { ...bare.spec, qos: { readIops: 7 } } }, undefined, c);
    expect(own.spec.qos).toEqual({ readIops: 7 });
    expect(mutated('Volume', bare).spec.qos).toBeUndefined();
  });

  it('keeps what the user set', () => {
    const spec: Volume['spec'] = {
      size: String(4 * MiB),
      numberOfReplicas: 1,
      dataLocality: 'strict-local',
      accessMode: 'rwop',
    };
    const out = mutated('Volume', { ...bare, spec });
    expect(out.spec).toMatchObject({ ...spec, revisionCounterDisabled: true });
  });

  it.each([
    ['1', String(2 * MiB)],
    [String(2 * MiB), String(2 * MiB)],
    [String(2 * MiB + 1), String(4 * MiB)],
    ['0', '0'],
  ])('rounds size %s up to %s', (size, rounded) => {
    expect(mutated('Volume', { ...bare, spec: { size } }).spec.size).toBe(rounded);
  });

  it('enables zone anti-affinity for a volume pinned to one zone', () => {
    const spec: Volume['spec'] = { size: '0', topologyRequirement: [{ zone: 'zone-a' }] };
    const out = mutated('Volume', { ...bare, spec });
    expect(out.spec.replicaZoneSoftAntiAffinity).toBe('enabled');
  });

  it('on UPDATE rounds a new size, raises snapshotMaxSize, and leaves set fields alone', () => {
    const before = volume({ size: String(2 * MiB), snapshotMaxSize: String(4 * MiB) });
    const after = volume({ size: String(3 * MiB), snapshotMaxSize: String(4 * MiB) });
    const out = mutated('Volume', after, before);
    expect(out.spec.size).toBe(String(4 * MiB));
    expect(out.spec.snapshotMaxSize).toBe(String(8 * MiB));
    expect(out.spec.numberOfReplicas).toBe(3);
  });

  it('does not touch an object being deleted', () => {
    const after = { ...bare, metadata: { ...bare.metadata, deletionTimestamp: '2025-01-01T00:00:00Z' } };
    expect(mutateRequest(request('Volume', 'UPDATE', after, bare), ctx).patch).toEqual([]);
  });

  it('makes no patch when everything is in place', () => {
    const once = mutated('Volume', bare);
    expect(mutateRequest(request('Volume', 'UPDATE', once, once), ctx).patch).toEqual([]);
  });
});

describe('instance, node, snapshot and job mutators', () => {
  it('labels and finalizes an Engine', () => {
    const engine: Engine = {
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'Engine',
      metadata: { name: 'e' },
      spec: { volumeName: 'v', nodeID: 'n1' },
    };
    const out = mutated('Engine', engine);
    expect(out.metadata.labels).toEqual({ longhornvolume: 'v', longhornnode: 'n1' });
    expect(out.metadata.finalizers).toEqual(['longhorn.io']);
    expect(out.spec).toMatchObject({
      replicaAddressMap: {},
      upgradedReplicaAddressMap: {},
      dataEngine: 'v1',
    });
  });

  it('labels a Replica with its volume, node and disk', () => {
    const replica: Replica = {
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'Replica',
      metadata: { name: 'r', labels: { app: 'x' } },
      spec: { volumeName: 'v', nodeID: 'n1', diskID: 'uuid' },
    };
    expect(mutated('Replica', replica).metadata.labels).toEqual({
      app: 'x',
      longhornvolume: 'v',
      longhornnode: 'n1',
      longhorndiskuuid: 'uuid',
    });
  });

  it('fills Node tags and disk types, deduplicating tags', () => {
    const n: Node = {
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'Node',
      metadata: { name: 'n1' },
      spec: {
        tags: ['ssd', 'ssd', 'fast'],
        disks: { a: { path: '/d', tags: ['x', 'x'] }, b: { path: '/e', diskType: 'block' } },
      },
    };
    const out = mutated('Node', n);
    expect(out.spec.tags).toEqual(['ssd', 'fast']);
    expect(out.spec.disks?.a).toEqual({ path: '/d', tags: ['x'], diskType: 'filesystem' });
    expect(out.spec.disks?.b).toEqual({ path: '/e', tags: [], diskType: 'block', diskDriver: 'auto' });
    expect(out.metadata.finalizers).toBeUndefined();
  });

  it('links a Snapshot to its volume', () => {
    const c = staticContext({ volumes: [{ ...volume(), metadata: { name: 'vol-1', uid: 'u-1' } }] });
    const snap: Snapshot = {
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'Snapshot',
      metadata: { name: 's' },
      spec: { volume: 'vol-1' },
    };
    const out = mutated('Snapshot', snap, undefined, c);
    expect(out.metadata.labels).toEqual({ longhornvolume: 'vol-1' });
    expect(out.metadata.ownerReferences).toEqual([
      { apiVersion: 'longhorn.io/v1beta2', kind: 'Volume', name: 'vol-1', uid: 'u-1' },
    ]);
    expect(out.metadata.finalizers).toEqual(['longhorn.io']);
  });

  it('fills a RecurringJob and clears retain on cleanup tasks', () => {
    const job: RecurringJob = {
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'RecurringJob',
      metadata: { name: 'trim' },
      spec: { task: 'filesystem-trim', cron: '@daily', retain: 3 },
    };
    expect(mutated('RecurringJob', job).spec).toEqual({
      name: 'trim',
      task: 'filesystem-trim',
      cron: '@daily',
      retain: 0,
      groups: [],
      labels: {},
      parameters: {},
      concurrency: 10,
    });
  });

  it('passes Settings unchanged and denies kinds it does not know', () => {
    const setting = {
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'Setting',
      metadata: { name: 'x' },
      value: '1',
    };
    expect(mutateRequest(request('Setting', 'CREATE', setting), ctx)).toEqual({
      verdict: { allowed: true, warnings: [] },
      patch: [],
    });
    const pod = mutateRequest(request('Pod', 'CREATE', { metadata: { name: 'p' } }, undefined, ''), ctx);
    expect(pod.verdict.message).toBe(
      "this webhook has no rules for v1 Pod; it serves longhorn.io kinds and PersistentVolumeClaims only (check the webhook configuration's rules)",
    );
  });
});

describe('JSON patch diff', () => {
  it.each<[unknown, unknown]>([
    [{ a: 1 }, { a: 2 }],
    [{ a: 1 }, {}],
    [{}, { 'x/y~z': { b: [1, 2] } }],
    [{ m: { labels: { a: '1' } } }, { m: { labels: { a: '1', b: '2' } } }],
    [{ list: [1, 2, 3] }, { list: [3] }],
    [{ a: { b: { c: 1 } } }, { a: { b: 'flat' } }],
  ])('turns %j into %j', (before, after) => {
    expect(applyPatch(before, diffToPatch(before, after))).toEqual(after);
  });
  it('escapes keys as RFC 6901 says', () => {
    expect(diffToPatch({}, { 'a/b~c': 1 })).toEqual([{ op: 'add', path: '/a~1b~0c', value: 1 }]);
  });
});
