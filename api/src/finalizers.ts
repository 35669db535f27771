/**
 * Longhorn puts one finalizer, its API group, on the objects its controllers clean up after
 * (Volume, Engine, Replica, Node, Snapshot, VolumeAttachment, Backup, ...).
 */
import { API_GROUP } from './group.js';

export const LONGHORN_FINALIZER = API_GROUP;

export function hasLonghornFinalizer(metadata: { finalizers?: string[] }): boolean {
  return metadata.finalizers?.includes(LONGHORN_FINALIZER) ?? false;
}

/** The finalizer list with ours added (unchanged when it is there). */
export function withLonghornFinalizer(finalizers: readonly string[] = []): string[] {
  return finalizers.includes(LONGHORN_FINALIZER) ? [...finalizers] : [...finalizers, LONGHORN_FINALIZER];
}

/** The finalizer list with ours removed. */
export function withoutLonghornFinalizer(finalizers: readonly string[] = []): string[] {
  return finalizers.filter((f) => f !== LONGHORN_FINALIZER);
}
