/**
 * Node, Snapshot, RecurringJob and VolumeAttachment defaults, as longhorn-manager's mutators
 * fill them. Node gets no finalizer here: our operator does not clean up after Nodes yet, and
 * a finalizer nobody removes would hold a deleted Node forever.
 */
import {
  API_GROUP,
  API_VERSION,
  LABEL_VOLUME,
  type Node,
  type RecurringJob,
  type Snapshot,
  type VolumeAttachment,
  withLonghornFinalizer,
} from '@longhorn-ts/api';
import { dedupe, fillDefault, type MutatorInput, setLabels } from './mutator.js';

/** Longhorn's default number of volumes a recurring job works on at once. */
export const DEFAULT_RECURRING_JOB_CONCURRENCY = 10;

export function mutateNode({ object }: MutatorInput<Node>): string[] {
  object.spec ??= {};
  const spec = object.spec;
  spec.tags = dedupe(spec.tags ?? []);
  spec.disks ??= {};
  for (const disk of Object.values(spec.disks)) {
    if (!disk || typeof disk !== 'object') continue;
    disk.tags = dedupe(disk.tags ?? []);
    fillDefault(disk, 'diskType', 'filesystem');
    if (disk.diskType === 'block') fillDefault(disk, 'diskDriver', 'auto');
  }
  return [];
}

export function mutateSnapshot({ object, old, ctx }: MutatorInput<Snapshot>): string[] {
  object.metadata.finalizers = withLonghornFinalizer(object.metadata.finalizers);
  const volumeName = object.spec?.volume;
  if (old || typeof volumeName !== 'string' || volumeName === '') return [];
  setLabels(object.metadata, { [LABEL_VOLUME]: volumeName });
  const volume = ctx.volume(volumeName);
  if ((object.metadata.ownerReferences ?? []).length === 0 && volume?.metadata.uid) {
    object.metadata.ownerReferences = [
      {
        apiVersion: `${API_GROUP}/${API_VERSION}`,
        kind: 'Volume',
        name: volumeName,
        uid: volume.metadata.uid,
      },
    ];
  }
  if (!volume) return [`volume ${volumeName} is not known (yet); the snapshot waits for it`];
  return [];
}

const CLEANUP_TASKS = ['snapshot-cleanup', 'filesystem-trim'];

export function mutateRecurringJob({ object }: MutatorInput<RecurringJob>): string[] {
  object.spec ??= {};
  const spec = object.spec;
  fillDefault(spec, 'name', object.metadata.name);
  spec.groups ??= [];
  spec.labels ??= {};
  spec.parameters ??= {};
  fillDefault(spec, 'concurrency', DEFAULT_RECURRING_JOB_CONCURRENCY, true);
  if (spec.task && CLEANUP_TASKS.includes(spec.task)) {
    // Nothing is kept by a cleanup: a retain count or age there only misleads.
    if (spec.retain) spec.retain = 0;
    if (spec.retainAge && spec.retainAge !== '0s') spec.retainAge = '0s';
  }
  return [];
}

export function mutateVolumeAttachment({ object }: MutatorInput<VolumeAttachment>): string[] {
  const volumeName = object.spec?.volume;
  if (typeof volumeName === 'string' && volumeName !== '')
    setLabels(object.metadata, { [LABEL_VOLUME]: volumeName });
  return [];
}
