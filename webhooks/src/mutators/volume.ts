/**
 * Volume defaults, as longhorn-manager's volume mutator fills them: replica count, data
 * locality, compression, snapshot count and backup block size from Settings; access mode rwo,
 * frontend blockdev, data engine v1, the per-volume overrides "ignored"; size rounded up to
 * 2 MiB; the finalizer and the longhornvolume / backup-target labels; QoS limits from the
 * default-volume-qos setting (a longhorn-ts extension) when the spec has none.
 */
import {
  DEFAULT_BACKUP_TARGET_NAME,
  LABEL_BACKUP_TARGET,
  LABEL_VOLUME,
  parseQosSetting,
  type Volume,
  type VolumeSpec,
  withLonghornFinalizer,
} from '@longhorn-ts/api';
import { pinnedZone, volumeSize } from '../validators/volume.js';
import { fillDefault, type MutatorInput, setLabels } from './mutator.js';

/** Longhorn rounds every volume size up to a multiple of 2 MiB. */
export const VOLUME_SIZE_ALIGNMENT = 2n * 1024n * 1024n;
/** Minutes a failed replica is kept for reuse (Longhorn's StorageClass default). */
export const DEFAULT_STALE_REPLICA_TIMEOUT = 30;
const MIB = 1024 * 1024;

export function roundUpSize(size: bigint): bigint {
  return ((size + VOLUME_SIZE_ALIGNMENT - 1n) / VOLUME_SIZE_ALIGNMENT) * VOLUME_SIZE_ALIGNMENT;
}

function roundSize(spec: VolumeSpec): void {
  const size = volumeSize(spec);
  if (size === undefined) return;
  const rounded = roundUpSize(size);
  if (typeof spec.size !== 'string' || rounded !== size) spec.size = rounded.toString();
}

/** What Longhorn fills on every CREATE and UPDATE. */
function fillCommon({ object, ctx }: MutatorInput<Volume>): void {
  const spec = object.spec;
  object.metadata.finalizers = withLonghornFinalizer(object.metadata.finalizers);
  fillDefault(spec, 'replicaAutoBalance', 'ignored');
  spec.diskSelector ??= [];
  spec.nodeSelector ??= [];
  fillDefault(spec, 'snapshotDataIntegrity', 'ignored');
  fillDefault(spec, 'restoreVolumeRecurringJob', 'ignored');
  fillDefault(spec, 'dataEngine', 'v1');
  if (spec.dataEngine === 'v2') spec.unmapMarkSnapChainRemoved = 'disabled';
  else fillDefault(spec, 'unmapMarkSnapChainRemoved', 'ignored');
  fillDefault(spec, 'replicaSoftAntiAffinity', 'ignored');
  if (
    pinnedZone(spec) !== undefined &&
    (!spec.replicaZoneSoftAntiAffinity || spec.replicaZoneSoftAntiAffinity === 'ignored')
  ) {
    spec.replicaZoneSoftAntiAffinity = 'enabled';
  } else {
    fillDefault(spec, 'replicaZoneSoftAntiAffinity', 'ignored');
  }
  fillDefault(spec, 'replicaDiskSoftAntiAffinity', 'ignored');
  fillDefault(spec, 'freezeFilesystemForSnapshot', 'ignored');
  fillDefault(spec, 'offlineRebuilding', 'ignored');
  if (spec.backupBlockSize === undefined) {
    spec.backupBlockSize = String(
      ctx.setting('default-backup-block-size') * MIB,
    ) as VolumeSpec['backupBlockSize'];
  }
  setLabels(object.metadata, { [LABEL_VOLUME]: object.metadata.name });
}

export function mutateVolume(input: MutatorInput<Volume>): string[] {
  const { object, old, ctx } = input;
  object.spec ??= {};
  const spec = object.spec;
  if (!old) {
    fillDefault(spec, 'numberOfReplicas', ctx.setting('default-replica-count'), true);
    fillDefault(spec, 'dataLocality', ctx.setting('default-data-locality'));
    fillDefault(spec, 'accessMode', 'rwo');
    if (!spec.disableFrontend) fillDefault(spec, 'frontend', 'blockdev');
    fillDefault(spec, 'staleReplicaTimeout', DEFAULT_STALE_REPLICA_TIMEOUT, true);
    fillDefault(spec, 'backupTargetName', DEFAULT_BACKUP_TARGET_NAME);
    setLabels(object.metadata, {
      [LABEL_BACKUP_TARGET]: spec.backupTargetName ?? DEFAULT_BACKUP_TARGET_NAME,
    });
    roundSize(spec);
    fillDefault(spec, 'backupCompressionMethod', ctx.setting('backup-compression-method'));
    fillDefault(spec, 'snapshotMaxCount', ctx.setting('snapshot-max-count'), true);
    if (spec.dataLocality === 'strict-local') spec.revisionCounterDisabled = true;
    // QoS limits (longhorn-ts extension): the setting's, when the spec has none.
    if (spec.qos === undefined) {
      const defaults = parseQosSetting(ctx.setting('default-volume-qos'));
      if ('qos' in defaults && Object.keys(defaults.qos).length > 0) spec.qos = defaults.qos;
    }
  } else {
    fillDefault(spec, 'accessMode', 'rwo');
    roundSize(spec);
    // Volumes made before the field existed: Longhorn's update default.
    fillDefault(spec, 'backupCompressionMethod', 'gzip');
    fillDefault(spec, 'snapshotMaxCount', ctx.setting('snapshot-max-count'), true);
    const size = volumeSize(spec);
    const maxSize = /^[0-9]+$/.test(spec.snapshotMaxSize ?? '') ? BigInt(spec.snapshotMaxSize as string) : 0n;
    if (size !== undefined && spec.size !== old.spec.size && maxSize !== 0n && maxSize < size * 2n) {
      spec.snapshotMaxSize = (size * 2n).toString();
    }
    if (spec.backupTargetName && spec.backupTargetName !== old.spec.backupTargetName) {
      setLabels(object.metadata, { [LABEL_BACKUP_TARGET]: spec.backupTargetName });
    }
  }
  if (spec.dataSource && !spec.cloneMode) spec.cloneMode = old?.spec.cloneMode || 'full-copy';
  fillCommon(input);
  return [];
}
