/**
 * Volume rules, as longhorn-manager's volume validator has them (webhook/resources/volume):
 * replica count and data locality, access mode and migration, frontends per data engine,
 * snapshot limits, backup block size, no shrinking, expansion only when the volume can take
 * it, and the fields that never change after creation.
 */
import {
  ACCESS_MODES,
  BACKUP_BLOCK_SIZES,
  BACKUP_COMPRESSION_METHODS,
  CLONE_MODES,
  DATA_ENGINES,
  DATA_LOCALITIES,
  MAX_REPLICAS,
  MAX_SNAPSHOT_COUNT,
  MIN_REPLICAS,
  REPLICA_AUTO_BALANCES,
  SETTING_OVERRIDES,
  SNAPSHOT_DATA_INTEGRITIES,
  VOLUME_FRONTENDS,
  type Volume,
  type VolumeSpec,
} from '@longhorn-ts/api';
import { enumProblem, listOf, type Rule, type RuleInput, sameJson, show } from './rules.js';

const MIN_SNAPSHOT_COUNT = 2;
const MIN_UBLK_QUEUE_DEPTH = 32;
const MAX_NVME_TCP_IO_QUEUES = 128;

/** Frontends each data engine can serve (`nbd` is longhorn-ts's own v1 frontend). */
const FRONTENDS_BY_ENGINE: Record<string, readonly string[]> = {
  v1: ['blockdev', 'iscsi', 'nbd'],
  v2: ['blockdev', 'nvmf', 'ublk'],
};

/** Volume size in bytes, or undefined when it is not a string of digits. */
export function volumeSize(spec: VolumeSpec): bigint | undefined {
  const size = spec.size as unknown;
  if (typeof size === 'number' && Number.isSafeInteger(size) && size >= 0) return BigInt(size);
  if (typeof size !== 'string' || !/^[0-9]+$/.test(size)) return undefined;
  return BigInt(size);
}

function engineOf(spec: VolumeSpec): string {
  return spec.dataEngine ?? 'v1';
}

/** All replicas pinned to one zone by the topology requirement (Longhorn's IsTopologyZonePinned). */
export function pinnedZone(spec: VolumeSpec): string | undefined {
  const terms = spec.topologyRequirement ?? [];
  if (terms.length === 0) return undefined;
  const zones = new Set(terms.map((t) => t.zone ?? ''));
  const [zone] = zones;
  return zones.size === 1 && zone !== '' ? zone : undefined;
}

const enums: Rule<Volume> = ({ object: { spec } }) =>
  enumProblem('spec.dataLocality', spec.dataLocality, DATA_LOCALITIES) ??
  enumProblem('spec.accessMode', spec.accessMode, ACCESS_MODES) ??
  enumProblem('spec.dataEngine', spec.dataEngine, DATA_ENGINES) ??
  enumProblem('spec.frontend', spec.frontend, VOLUME_FRONTENDS, true) ??
  enumProblem('spec.replicaAutoBalance', spec.replicaAutoBalance, REPLICA_AUTO_BALANCES) ??
  enumProblem('spec.replicaSoftAntiAffinity', spec.replicaSoftAntiAffinity, SETTING_OVERRIDES) ??
  enumProblem('spec.replicaZoneSoftAntiAffinity', spec.replicaZoneSoftAntiAffinity, SETTING_OVERRIDES) ??
  enumProblem('spec.replicaDiskSoftAntiAffinity', spec.replicaDiskSoftAntiAffinity, SETTING_OVERRIDES) ??
  enumProblem('spec.unmapMarkSnapChainRemoved', spec.unmapMarkSnapChainRemoved, SETTING_OVERRIDES) ??
  enumProblem('spec.restoreVolumeRecurringJob', spec.restoreVolumeRecurringJob, SETTING_OVERRIDES) ??
  enumProblem('spec.freezeFilesystemForSnapshot', spec.freezeFilesystemForSnapshot, SETTING_OVERRIDES) ??
  enumProblem('spec.offlineRebuilding', spec.offlineRebuilding, SETTING_OVERRIDES) ??
  enumProblem('spec.snapshotDataIntegrity', spec.snapshotDataIntegrity, SNAPSHOT_DATA_INTEGRITIES) ??
  enumProblem('spec.backupCompressionMethod', spec.backupCompressionMethod, BACKUP_COMPRESSION_METHODS) ??
  enumProblem('spec.cloneMode', spec.cloneMode, CLONE_MODES, true) ??
  enumProblem('spec.backupBlockSize', spec.backupBlockSize, BACKUP_BLOCK_SIZES);

const sizeDigits: Rule<Volume> = ({ object: { spec }, operation }) => {
  if (spec.size === undefined) return undefined;
  const size = volumeSize(spec);
  if (size === undefined) {
    return `spec.size ${show(spec.size)} is not a number of bytes; write decimal digits, e.g. "2147483648" for 2 GiB`;
  }
  if (size === 0n && operation === 'CREATE' && !spec.fromBackup && !spec.dataSource) {
    return 'spec.size is 0; set the size in bytes, e.g. "2147483648" for 2 GiB';
  }
  return undefined;
};

const replicaCount: Rule<Volume> = ({ object: { spec } }) => {
  const n = spec.numberOfReplicas;
  if (n === undefined) return undefined;
  if (!Number.isInteger(n) || n < MIN_REPLICAS || n > MAX_REPLICAS) {
    return `spec.numberOfReplicas ${show(n)} is out of range; set it from ${MIN_REPLICAS} to ${MAX_REPLICAS}`;
  }
  return undefined;
};

const strictLocalOneReplica: Rule<Volume> = ({ object: { spec } }) => {
  if (spec.dataLocality !== 'strict-local' || spec.numberOfReplicas === undefined) return undefined;
  if (spec.numberOfReplicas === 1) return undefined;
  return (
    `spec.dataLocality strict-local keeps the only replica on the volume's node, so it needs spec.numberOfReplicas 1 ` +
    `(it is ${spec.numberOfReplicas}); set numberOfReplicas to 1 or use dataLocality best-effort`
  );
};

const rwxNotStrictLocal: Rule<Volume> = ({ object: { spec } }) => {
  if (spec.accessMode === 'rwx' && !spec.migratable && spec.dataLocality === 'strict-local') {
    return 'spec.accessMode rwx is served over the network from a share manager and cannot be strict-local; use dataLocality best-effort or disabled, or accessMode rwo';
  }
  return undefined;
};

const migratableNeedsRwx: Rule<Volume> = ({ object: { spec } }) => {
  if (!spec.migratable || spec.accessMode === 'rwx') return undefined;
  return `spec.migratable needs spec.accessMode rwx (it is ${spec.accessMode ?? 'rwo'}); set accessMode to rwx or migratable to false`;
};

const frontendForEngine: Rule<Volume> = ({ object: { spec } }) => {
  if (spec.Standby || spec.frontend === undefined || spec.frontend === '') return undefined;
  const engine = engineOf(spec);
  const allowed = FRONTENDS_BY_ENGINE[engine] ?? [];
  if (allowed.includes(spec.frontend)) return undefined;
  return `spec.frontend ${spec.frontend} is not served by data engine ${engine}; use ${listOf(allowed)}`;
};

const queues: Rule<Volume> = ({ object: { spec } }) => {
  const depth = spec.ublkQueueDepth ?? 0;
  if (depth !== 0 && depth < MIN_UBLK_QUEUE_DEPTH) {
    return `spec.ublkQueueDepth ${depth} is too small; set 0 (the default) or at least ${MIN_UBLK_QUEUE_DEPTH}`;
  }
  if ((spec.ublkNumberOfQueue ?? 0) < 0) {
    return `spec.ublkNumberOfQueue ${spec.ublkNumberOfQueue} is negative; set 0 (the default) or at least 1`;
  }
  const nvme = spec.nvmeTcpNrIoQueues ?? 0;
  if (nvme !== 0 && (nvme < 1 || nvme > MAX_NVME_TCP_IO_QUEUES)) {
    return `spec.nvmeTcpNrIoQueues ${nvme} is out of range; set 0 (the default) or 1 to ${MAX_NVME_TCP_IO_QUEUES}`;
  }
  if (nvme !== 0 && engineOf(spec) !== 'v2') {
    return 'spec.nvmeTcpNrIoQueues applies to data engine v2 only; set it to 0 or use dataEngine v2';
  }
  return undefined;
};

const engineOnlyFields: Rule<Volume> = ({ object: { spec } }) => {
  const engine = engineOf(spec);
  if ((spec.replicaRebuildingBandwidthLimit ?? 0) !== 0 && engine !== 'v2') {
    return `spec.replicaRebuildingBandwidthLimit applies to data engine v2 only; set it to 0 for data engine ${engine}`;
  }
  if (
    engine === 'v2' &&
    spec.unmapMarkSnapChainRemoved !== undefined &&
    spec.unmapMarkSnapChainRemoved !== 'disabled'
  ) {
    return 'spec.unmapMarkSnapChainRemoved must be disabled for data engine v2; set it to disabled';
  }
  return undefined;
};

const engineEnabled: Rule<Volume> = ({ object: { spec }, ctx }) => {
  const engine = engineOf(spec);
  const enabled = engine === 'v2' ? ctx.setting('v2-data-engine') : ctx.setting('v1-data-engine');
  if (enabled) return undefined;
  return `data engine ${engine} is disabled (setting ${engine}-data-engine is false); enable that setting or use the other data engine`;
};

const zonePin: Rule<Volume> = ({ object: { spec } }) => {
  const zone = pinnedZone(spec);
  if (zone === undefined || spec.replicaZoneSoftAntiAffinity === undefined) return undefined;
  if (spec.replicaZoneSoftAntiAffinity === 'enabled') return undefined;
  return (
    `spec.topologyRequirement keeps every replica in zone ${zone}, where zone anti-affinity can never hold; ` +
    `set spec.replicaZoneSoftAntiAffinity to enabled (it is ${spec.replicaZoneSoftAntiAffinity})`
  );
};

const cloneMode: Rule<Volume> = ({ object: { spec } }) => {
  if (spec.cloneMode && !spec.dataSource) {
    return `spec.cloneMode ${spec.cloneMode} needs spec.dataSource; remove cloneMode or set dataSource (vol://<volume> or snap://<volume>/<snapshot>)`;
  }
  if (spec.cloneMode === 'linked-clone' && engineOf(spec) === 'v1') {
    return 'spec.cloneMode linked-clone is not supported by data engine v1; use full-copy';
  }
  return undefined;
};

const snapshotLimits: Rule<Volume> = ({ object: { spec } }) => {
  const count = spec.snapshotMaxCount;
  if (count !== undefined && count !== 0 && (count < MIN_SNAPSHOT_COUNT || count > MAX_SNAPSHOT_COUNT)) {
    return `spec.snapshotMaxCount ${count} is out of range; set it from ${MIN_SNAPSHOT_COUNT} to ${MAX_SNAPSHOT_COUNT} (0: the setting snapshot-max-count)`;
  }
  const size = volumeSize(spec);
  const raw = spec.snapshotMaxSize;
  if (raw === undefined || size === undefined) return undefined;
  if (!/^[0-9]+$/.test(String(raw))) {
    return `spec.snapshotMaxSize ${show(raw)} is not a number of bytes; write decimal digits, "0" for no limit`;
  }
  const max = BigInt(raw);
  if (max !== 0n && max < size * 2n) {
    return `spec.snapshotMaxSize ${max} is less than twice spec.size; set it to "0" (no limit) or at least "${size * 2n}"`;
  }
  return undefined;
};

const backupBlockSize: Rule<Volume> = ({ object: { spec } }) => {
  const size = volumeSize(spec);
  if (spec.backupBlockSize === undefined || size === undefined) return undefined;
  const block = BigInt(spec.backupBlockSize);
  if (size % block === 0n) return undefined;
  const up = ((size + block - 1n) / block) * block;
  return `spec.size ${size} is not a multiple of spec.backupBlockSize ${block}; set size to "${up}" or backupBlockSize to "2097152"`;
};

// --- UPDATE only -----------------------------------------------------------------------------

/** Why the volume cannot expand now, as Longhorn's IsVolumeReady for a size expansion; undefined: it can. */
export function expansionBlocker({ object, ctx }: RuleInput<Volume>, old: Volume): string | undefined {
  const status = old.status ?? {};
  const state = status.state ?? '';
  if (!old.spec.nodeID && state !== 'detached') {
    return `it is ${state || 'being created'} and not yet fully detached; retry once it is detached or attached`;
  }
  const replicas = ctx.replicasOf(object.metadata.name);
  const allScheduled = replicas.length > 0 && replicas.every((r) => !!r.spec.nodeID);
  const scheduled = status.conditions?.find((c) => c.type === 'Scheduled')?.status === 'True';
  if (state === 'detached' && !scheduled && !allScheduled) {
    return 'it is detached with replicas that could not be scheduled; make room for them (kubectl -n longhorn-system get lhn) and retry';
  }
  if (status.robustness === 'faulted') {
    return 'it is faulted (no healthy replica); salvage it or restore it from a backup before expanding';
  }
  const cloneState = status.cloneStatus?.state ?? '';
  if (
    old.spec.dataSource?.startsWith('vol://') &&
    cloneState !== 'completed' &&
    cloneState !== 'copy-completed-awaiting-healthy'
  ) {
    return 'it is still copying data from spec.dataSource; retry once status.cloneStatus.state is completed';
  }
  if (status.restoreRequired && !status.isStandby) {
    return 'it is restoring from a backup; retry after the restore finishes';
  }
  if (state === 'attached' && ctx.enginesOf(object.metadata.name).length === 0) {
    return 'it is attached but has no engine to expand; retry once its engine runs';
  }
  return undefined;
}

const sizeChange: Rule<Volume> = (input) => {
  const { object, old } = input;
  if (!old) return undefined;
  const before = volumeSize(old.spec);
  const after = volumeSize(object.spec);
  if (before === undefined || after === undefined || before === after) return undefined;
  if (after < before && !old.status?.expansionRequired) {
    return `spec.size cannot shrink from ${before} to ${after}: volumes only grow; set a size of at least "${before}"`;
  }
  if (after < before) return undefined;
  // A volume made from a backup without a size gets the backup volume's size from the restore
  // (operator/src/volume/volume-restore.ts) before anything is created: not an expansion.
  if (before === 0n && old.spec.fromBackup && !old.status?.restoreInitiated) return undefined;
  const blocker = expansionBlocker(input, old);
  return blocker === undefined ? undefined : `volume ${object.metadata.name} cannot expand now: ${blocker}`;
};

const localityChange: Rule<Volume> = ({ object: { spec }, old }) => {
  if (!old || old.status?.state === 'detached') return undefined;
  const from = old.spec.dataLocality;
  const to = spec.dataLocality;
  if (from === to || (from !== 'strict-local' && to !== 'strict-local')) return undefined;
  return `spec.dataLocality cannot change from ${from} to ${to} while the volume is ${old.status?.state || 'not detached'}; detach it first`;
};

interface Immutable {
  field: keyof VolumeSpec;
  /** Only once the old value is set (Longhorn lets an empty value be filled in later). */
  onceSet?: boolean;
  /** What to do instead. */
  instead: string;
}

const IMMUTABLE_FIELDS: readonly Immutable[] = [
  {
    field: 'dataEngine',
    onceSet: true,
    instead: 'create a new volume with the other engine and copy the data',
  },
  { field: 'encrypted', instead: 'create a new volume with the other setting and copy the data' },
  { field: 'backingImage', instead: 'create a new volume from the other backing image' },
  {
    field: 'backupCompressionMethod',
    onceSet: true,
    instead: 'keep it; backups of one volume share one method',
  },
  { field: 'dataSource', instead: 'create a new volume to clone from another source' },
  { field: 'topologyRequirement', instead: 'create a new volume with the other topology' },
  { field: 'cloneMode', onceSet: true, instead: 'create a new volume to clone another way' },
];

const immutables: Rule<Volume> = ({ object: { spec }, old }) => {
  if (!old) return undefined;
  for (const { field, onceSet, instead } of IMMUTABLE_FIELDS) {
    const before = old.spec[field];
    if (onceSet && (before === undefined || before === '')) continue;
    if (sameJson(before, spec[field]) || (isEmpty(before) && isEmpty(spec[field]))) continue;
    return `spec.${field} cannot change after creation (was ${show(before)}, now ${show(spec[field])}); set it back to ${show(before)} or ${instead}`;
  }
  const oldBlock = old.spec.backupBlockSize;
  const oldSize = volumeSize(old.spec);
  const oldBlockValid = oldBlock !== undefined && oldSize !== undefined && oldSize % BigInt(oldBlock) === 0n;
  if (oldBlockValid && spec.backupBlockSize !== oldBlock) {
    return `spec.backupBlockSize cannot change after creation (was ${show(oldBlock)}); set it back to ${show(oldBlock)}`;
  }
  return undefined;
};

function isEmpty(value: unknown): boolean {
  return (
    value === undefined || value === '' || value === false || (Array.isArray(value) && value.length === 0)
  );
}

const migrationTarget: Rule<Volume> = ({ object: { spec, status }, old }) => {
  const migrating = status?.currentMigrationNodeID;
  if (!old || !migrating || !spec.migrationNodeID) return undefined;
  if (spec.migrationNodeID === old.spec.migrationNodeID || spec.migrationNodeID === migrating)
    return undefined;
  return `spec.migrationNodeID cannot move to ${spec.migrationNodeID} while the volume is migrating to ${migrating}; wait for that migration to finish or set it back to ${migrating}`;
};

const strictLocalNode: Rule<Volume> = ({ object, old, ctx }) => {
  const { spec } = object;
  if (!old || spec.dataLocality !== 'strict-local' || !spec.nodeID || spec.nodeID === old.spec.nodeID) {
    return undefined;
  }
  const replicas = ctx.replicasOf(object.metadata.name);
  const placed = replicas.find((r) => r.spec.nodeID);
  if (placed === undefined || placed.spec.nodeID === spec.nodeID) return undefined;
  return `a strict-local volume attaches only on the node of its replica (${placed.spec.nodeID}), not ${spec.nodeID}; attach it on ${placed.spec.nodeID} or change dataLocality while detached`;
};

const hashingRequest: Rule<Volume> = ({ object: { spec }, old }) => {
  if (!old) return undefined;
  const before = old.spec.snapshotHashingRequestedAt ?? '';
  const after = spec.snapshotHashingRequestedAt ?? '';
  if (after === before || after === '') return undefined;
  if (before !== '' && before !== (old.status?.lastOnDemandSnapshotHashingCompleteAt ?? '')) {
    return 'spec.snapshotHashingRequestedAt: the previous snapshot hashing request is still running; retry once it completes';
  }
  return undefined;
};

const COMMON: readonly Rule<Volume>[] = [
  enums,
  sizeDigits,
  replicaCount,
  strictLocalOneReplica,
  rwxNotStrictLocal,
  migratableNeedsRwx,
  queues,
  engineOnlyFields,
  zonePin,
  snapshotLimits,
  backupBlockSize,
];

export const VOLUME_CREATE_RULES: readonly Rule<Volume>[] = [
  ...COMMON,
  frontendForEngine,
  cloneMode,
  engineEnabled,
];

export const VOLUME_UPDATE_RULES: readonly Rule<Volume>[] = [
  immutables,
  sizeChange,
  localityChange,
  ...COMMON,
  migrationTarget,
  strictLocalNode,
  hashingRequest,
];

/** Risky but legal specs. */
export function volumeWarnings({ object: { spec }, old }: RuleInput<Volume>): string[] {
  const warnings: string[] = [];
  const replicasChanged = !old || old.spec.numberOfReplicas !== spec.numberOfReplicas;
  if (spec.numberOfReplicas === 1 && replicasChanged) {
    warnings.push(
      'spec.numberOfReplicas is 1: the data lives on one disk of one node and is lost with it; use 3 replicas for redundancy',
    );
  }
  if (spec.replicaSoftAntiAffinity === 'enabled' && old?.spec.replicaSoftAntiAffinity !== 'enabled') {
    warnings.push(
      'spec.replicaSoftAntiAffinity is enabled: replicas may share a node, and one node failure can take several of them',
    );
  }
  return warnings;
}
