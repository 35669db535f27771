import type { Volume } from '@longhorn-ts/api';
import { describe, expect, it } from 'vitest';
import { staticContext } from '../src/admission/context.js';
import { validateRequest } from '../src/admit.js';
import { GiB, replica, request, volume } from './fixtures.js';

const ctx = staticContext();

function create(spec: Volume['spec']) {
  return validateRequest(request('Volume', 'CREATE', volume(spec)), ctx);
}

describe('Volume CREATE', () => {
  it('allows a plain 3-replica volume without warnings', () => {
    expect(create({})).toEqual({ allowed: true, warnings: [] });
  });

  it.each<[string, Volume['spec'], string]>([
    [
      '21 replicas',
      { numberOfReplicas: 21 },
      'spec.numberOfReplicas 21 is out of range; set it from 1 to 20',
    ],
    ['0 replicas', { numberOfReplicas: 0 }, 'spec.numberOfReplicas 0 is out of range; set it from 1 to 20'],
    [
      'strict-local with 2 replicas',
      { dataLocality: 'strict-local', numberOfReplicas: 2 },
      "spec.dataLocality strict-local keeps the only replica on the volume's node, so it needs spec.numberOfReplicas 1 (it is 2); set numberOfReplicas to 1 or use dataLocality best-effort",
    ],
    [
      'migratable rwo',
      { migratable: true, accessMode: 'rwo' },
      'spec.migratable needs spec.accessMode rwx (it is rwo); set accessMode to rwx or migratable to false',
    ],
    [
      'rwx strict-local',
      { accessMode: 'rwx', dataLocality: 'strict-local', numberOfReplicas: 1 },
      'spec.accessMode rwx is served over the network from a share manager and cannot be strict-local; use dataLocality best-effort or disabled, or accessMode rwo',
    ],
    [
      'an unknown data locality',
      { dataLocality: 'nearby' as never },
      'spec.dataLocality "nearby" is not valid; use one of disabled, best-effort or strict-local',
    ],
    [
      'an unknown access mode',
      { accessMode: 'rwm' as never },
      'spec.accessMode "rwm" is not valid; use one of rwo, rwop or rwx',
    ],
    [
      'nvmf on v1',
      { frontend: 'nvmf' },
      'spec.frontend nvmf is not served by data engine v1; use blockdev, iscsi or nbd',
    ],
    [
      'a size that is not digits',
      { size: '2Gi' },
      'spec.size "2Gi" is not a number of bytes; write decimal digits, e.g. "2147483648" for 2 GiB',
    ],
    ['size 0', { size: '0' }, 'spec.size is 0; set the size in bytes, e.g. "2147483648" for 2 GiB'],
    [
      'snapshotMaxCount 1',
      { snapshotMaxCount: 1 },
      'spec.snapshotMaxCount 1 is out of range; set it from 2 to 250 (0: the setting snapshot-max-count)',
    ],
    [
      'snapshotMaxSize below twice the size',
      { snapshotMaxSize: String(3 * GiB) },
      `spec.snapshotMaxSize ${3 * GiB} is less than twice spec.size; set it to "0" (no limit) or at least "${4 * GiB}"`,
    ],
    [
      'a 16 MiB backup block on a size that is no multiple of it',
      { size: String(18 * 1024 * 1024), backupBlockSize: '16777216' },
      `spec.size ${18 * 1024 * 1024} is not a multiple of spec.backupBlockSize 16777216; set size to "${32 * 1024 * 1024}" or backupBlockSize to "2097152"`,
    ],
    [
      'a rebuild bandwidth limit on v1',
      { replicaRebuildingBandwidthLimit: 100 },
      'spec.replicaRebuildingBandwidthLimit applies to data engine v2 only; set it to 0 for data engine v1',
    ],
    [
      'a zone pin with zone anti-affinity disabled',
      { topologyRequirement: [{ zone: 'zone-a' }], replicaZoneSoftAntiAffinity: 'disabled' },
      'spec.topologyRequirement keeps every replica in zone zone-a, where zone anti-affinity can never hold; set spec.replicaZoneSoftAntiAffinity to enabled (it is disabled)',
    ],
    [
      'a clone mode without a data source',
      { cloneMode: 'full-copy' },
      'spec.cloneMode full-copy needs spec.dataSource; remove cloneMode or set dataSource (vol://<volume> or snap://<volume>/<snapshot>)',
    ],
    [
      'a linked clone on v1',
      { cloneMode: 'linked-clone', dataSource: 'vol://src' },
      'spec.cloneMode linked-clone is not supported by data engine v1; use full-copy',
    ],
    [
      'a small ublk queue depth',
      { ublkQueueDepth: 8 },
      'spec.ublkQueueDepth 8 is too small; set 0 (the default) or at least 32',
    ],
    [
      'NVMe-TCP queues on v1',
      { nvmeTcpNrIoQueues: 4 },
      'spec.nvmeTcpNrIoQueues applies to data engine v2 only; set it to 0 or use dataEngine v2',
    ],
    [
      'v2 while the v2 engine is off',
      { dataEngine: 'v2', unmapMarkSnapChainRemoved: 'disabled' },
      'data engine v2 is disabled (setting v2-data-engine is false); enable that setting or use the other data engine',
    ],
  ])('denies %s', (_what, spec, message) => {
    const verdict = create(spec);
    expect(verdict.allowed).toBe(false);
    expect(verdict.message).toBe(message);
    expect(verdict.code).toBe(400);
  });

  it('allows v2 when the setting enables it', () => {
    const verdict = validateRequest(
      request(
        'Volume',
        'CREATE',
        volume({ dataEngine: 'v2', frontend: 'nvmf', unmapMarkSnapChainRemoved: 'disabled' }),
      ),
      staticContext({ settings: { 'v2-data-engine': 'true' } }),
    );
    expect(verdict.allowed).toBe(true);
  });

  it('warns about one replica and about soft anti-affinity, and still allows', () => {
    const verdict = create({ numberOfReplicas: 1, replicaSoftAntiAffinity: 'enabled' });
    expect(verdict.allowed).toBe(true);
    expect(verdict.warnings).toEqual([
      'spec.numberOfReplicas is 1: the data lives on one disk of one node and is lost with it; use 3 replicas for redundancy',
      'spec.replicaSoftAntiAffinity is enabled: replicas may share a node, and one node failure can take several of them',
    ]);
  });

  it('allows strict-local with one replica (with the one-replica warning)', () => {
    const verdict = create({ dataLocality: 'strict-local', numberOfReplicas: 1 });
    expect(verdict.allowed).toBe(true);
    expect(verdict.warnings).toHaveLength(1);
  });

  it('allows a standby volume any frontend check', () => {
    expect(create({ Standby: true, frontend: 'nvmf' }).allowed).toBe(true);
  });
});

describe('Volume UPDATE', () => {
  const attached: Volume['status'] = { state: 'attached', robustness: 'healthy' };
  const detached: Volume['status'] = {
    state: 'detached',
    conditions: [{ type: 'Scheduled', status: 'True' }],
  };
  const withEngine = staticContext({
    engines: [
      {
        apiVersion: 'longhorn.io/v1beta2',
        kind: 'Engine',
        metadata: { name: 'vol-1-e-0' },
        spec: { volumeName: 'vol-1' },
      },
    ],
  });

  function update(
    oldSpec: Volume['spec'],
    newSpec: Volume['spec'],
    status: Volume['status'] = attached,
    c = withEngine,
  ) {
    const before = volume(oldSpec, status);
    const after = volume({ ...oldSpec, ...newSpec }, status);
    if (oldSpec.nodeID === undefined && status?.state === 'attached') {
      before.spec.nodeID = 'node-1';
      after.spec.nodeID = newSpec.nodeID ?? 'node-1';
    }
    return validateRequest(request('Volume', 'UPDATE', after, before), c);
  }

  it('allows growing an attached healthy volume with an engine', () => {
    expect(update({}, { size: String(4 * GiB) }).allowed).toBe(true);
  });

  it('lets the restore give a volume made from a backup without a size its size, once', () => {
    const fromBackup = 's3://bkt@us-east-1/?backup=backup-1&volume=src';
    expect(update({ size: '0', fromBackup }, { size: String(GiB) }, {}).allowed).toBe(true);
    expect(update({ size: '0', fromBackup }, { size: String(GiB) }, { restoreInitiated: true }).allowed).toBe(
      false,
    );
  });

  it.each<[string, Volume['spec'], Volume['spec'], Volume['status'], string]>([
    [
      'shrinking',
      {},
      { size: String(GiB) },
      attached,
      `spec.size cannot shrink from ${2 * GiB} to ${GiB}: volumes only grow; set a size of at least "${2 * GiB}"`,
    ],
    [
      'growing a faulted volume',
      {},
      { size: String(4 * GiB) },
      { state: 'attached', robustness: 'faulted' },
      'volume vol-1 cannot expand now: it is faulted (no healthy replica); salvage it or restore it from a backup before expanding',
    ],
    [
      'growing a restoring volume',
      {},
      { size: String(4 * GiB) },
      { state: 'attached', restoreRequired: true },
      'volume vol-1 cannot expand now: it is restoring from a backup; retry after the restore finishes',
    ],
    [
      'growing a volume that is detaching',
      { nodeID: '' },
      { size: String(4 * GiB) },
      { state: 'detaching' },
      'volume vol-1 cannot expand now: it is detaching and not yet fully detached; retry once it is detached or attached',
    ],
    [
      'growing a detached volume with unscheduled replicas',
      {},
      { size: String(4 * GiB) },
      { state: 'detached' },
      'volume vol-1 cannot expand now: it is detached with replicas that could not be scheduled; make room for them (kubectl -n longhorn-system get lhn) and retry',
    ],
    [
      'changing the data engine',
      {},
      { dataEngine: 'v2' },
      attached,
      'spec.dataEngine cannot change after creation (was "v1", now "v2"); set it back to "v1" or create a new volume with the other engine and copy the data',
    ],
    [
      'turning encryption on',
      {},
      { encrypted: true },
      attached,
      'spec.encrypted cannot change after creation (was (unset), now true); set it back to (unset) or create a new volume with the other setting and copy the data',
    ],
    [
      'changing the compression method',
      { backupCompressionMethod: 'lz4' },
      { backupCompressionMethod: 'gzip' },
      attached,
      'spec.backupCompressionMethod cannot change after creation (was "lz4", now "gzip"); set it back to "lz4" or keep it; backups of one volume share one method',
    ],
    [
      'changing the backing image',
      { backingImage: 'bi-1' },
      { backingImage: 'bi-2' },
      attached,
      'spec.backingImage cannot change after creation (was "bi-1", now "bi-2"); set it back to "bi-1" or create a new volume from the other backing image',
    ],
    [
      'changing the data source',
      { dataSource: 'vol://a', cloneMode: 'full-copy' },
      { dataSource: 'vol://b' },
      attached,
      'spec.dataSource cannot change after creation (was "vol://a", now "vol://b"); set it back to "vol://a" or create a new volume to clone from another source',
    ],
    [
      'changing the backup block size',
      { backupBlockSize: '2097152' },
      { backupBlockSize: '16777216' },
      attached,
      'spec.backupBlockSize cannot change after creation (was "2097152"); set it back to "2097152"',
    ],
    [
      'turning an attached volume strict-local',
      { numberOfReplicas: 1 },
      { dataLocality: 'strict-local' },
      attached,
      'spec.dataLocality cannot change from disabled to strict-local while the volume is attached; detach it first',
    ],
  ])('denies %s', (_what, oldSpec, newSpec, status, message) => {
    const verdict = update(oldSpec, newSpec, status);
    expect(verdict.message).toBe(message);
    expect(verdict.allowed).toBe(false);
  });

  it('denies growing an attached volume that has no engine', () => {
    const verdict = update({}, { size: String(4 * GiB) }, attached, staticContext());
    expect(verdict.message).toBe(
      'volume vol-1 cannot expand now: it is attached but has no engine to expand; retry once its engine runs',
    );
  });

  it('allows growing a detached volume whose replicas are scheduled', () => {
    expect(update({}, { size: String(4 * GiB) }, detached).allowed).toBe(true);
  });

  it('allows turning a detached volume strict-local', () => {
    expect(update({ numberOfReplicas: 1 }, { dataLocality: 'strict-local' }, detached).allowed).toBe(true);
  });

  it('allows filling a compression method that was never set', () => {
    expect(update({ backupCompressionMethod: undefined }, { backupCompressionMethod: 'lz4' }).allowed).toBe(
      true,
    );
  });

  it('denies attaching a strict-local volume away from its replica', () => {
    const c = staticContext({ replicas: [replica('r-1', 'vol-1', 'node-2', 'disk-a')] });
    const spec: Volume['spec'] = { dataLocality: 'strict-local', numberOfReplicas: 1 };
    const before = volume({ ...spec, nodeID: '' }, detached);
    const after = volume({ ...spec, nodeID: 'node-1' }, detached);
    expect(validateRequest(request('Volume', 'UPDATE', after, before), c).message).toBe(
      'a strict-local volume attaches only on the node of its replica (node-2), not node-1; attach it on node-2 or change dataLocality while detached',
    );
  });

  it('does not warn again about one replica when the count did not change', () => {
    expect(update({ numberOfReplicas: 1 }, {}).warnings).toEqual([]);
  });

  it('allows any update of a volume being deleted (finalizer removal)', () => {
    const before = volume({ encrypted: false });
    const after = volume({ encrypted: true, numberOfReplicas: 99 });
    after.metadata.deletionTimestamp = '2025-01-01T00:00:00Z';
    expect(validateRequest(request('Volume', 'UPDATE', after, before), ctx)).toEqual({
      allowed: true,
      warnings: [],
    });
  });
});
