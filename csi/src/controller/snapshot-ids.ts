import { createHash } from 'node:crypto';
import { snapshotDataSource } from '@longhorn-ts/api';

/** A CSI snapshot id is Longhorn's data source form: `snap://<volume>/<snapshot>`. */
export function snapshotId(volume: string, snapshot: string): string {
  return snapshotDataSource(volume, snapshot);
}

export function parseSnapshotId(id: string): { volume: string; snapshot: string } | undefined {
  const m = /^snap:\/\/([^/]+)\/([^/]+)$/.exec(id);
  return m ? { volume: m[1]!, snapshot: m[2]! } : undefined;
}

/** A backup's CSI snapshot id, Longhorn's form: `bak://<volume>/<backup>`. */
export function backupSnapshotId(volume: string, backup: string): string {
  return `bak://${volume}/${backup}`;
}

/**
 * A `bak://<volume>/<backup>` id (also Longhorn's deprecated `bs://` spelling); undefined for
 * any other id.
 */
export function parseBackupSnapshotId(id: string): { volume: string; backup: string } | undefined {
  const m = /^(?:bak|bs):\/\/([^/]+)\/([^/]+)$/.exec(id);
  return m ? { volume: m[1]!, backup: m[2]! } : undefined;
}

/** The volume a snapshot id of either kind names (the edge serialises per volume). */
export function volumeOfSnapshotId(id: string): string | undefined {
  return parseSnapshotId(id)?.volume ?? parseBackupSnapshotId(id)?.volume;
}

/**
 * The Backup CR made for a CSI snapshot: Longhorn names backups `backup-<16 hex>`. Derived from
 * the volume and snapshot names rather than random, so a repeated CreateSnapshot finds it again
 * even before its status says which snapshot it holds.
 */
export function backupNameFor(volume: string, snapshot: string): string {
  return `backup-${createHash('sha256').update(`${volume}/${snapshot}`).digest('hex').slice(0, 16)}`;
}

const NAME_MAX = 63;

/**
 * A Kubernetes object name from a CSI name (PV names `pvc-<uid>`, snapshot names
 * `snapshot-<uid>`, csi-sanity's long mixed-case names): lower case, runs of other characters
 * become `-`, starting and ending alphanumeric. A longer name keeps its first 54 characters and
 * gets 8 hex of its SHA-256, so two long names that differ only at the end stay apart.
 */
export function objectName(name: string): string {
  const trim = (s: string) => s.replace(/^[^a-z0-9]+/, '').replace(/[^a-z0-9]+$/, '');
  const corrected = trim(name.toLowerCase().replace(/[^a-z0-9.-]+/g, '-'));
  if (corrected.length <= NAME_MAX) return corrected;
  const digest = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${trim(corrected.slice(0, NAME_MAX - 9))}-${digest}`;
}
