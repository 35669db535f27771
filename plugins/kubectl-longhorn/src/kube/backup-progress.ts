/**
 * Where a backup, a restore or a backup target stands, read from the CRs the operator writes
 * (pure): a step to print, a percent when there is one, done, or a failure with the operator's
 * message. The commands poll these until done.
 */
import type { Backup, BackupTarget, Engine, Volume } from '@longhorn-ts/api';

export type Step =
  | { kind: 'waiting'; step: string; percent?: number | undefined }
  | { kind: 'done'; step: string }
  | { kind: 'failed'; error: string };

/** A Backup CR on its way to Completed (Longhorn: Pending/InProgress, then Completed or Error). */
export function backupStep(backup: Backup): Step {
  const name = backup.metadata.name;
  const s = backup.status ?? {};
  switch (s.state) {
    case 'Completed':
      return { kind: 'done', step: 'completed' };
    case 'Error':
      return { kind: 'failed', error: `backup ${name} failed: ${s.error || 'the operator gave no reason'}` };
    case 'InProgress':
      return { kind: 'waiting', step: 'uploading', percent: s.progress ?? 0 };
    case 'Deleting':
      return { kind: 'failed', error: `backup ${name} is being deleted` };
    case 'Pending':
      return { kind: 'waiting', step: s.error ? `pending: ${s.error}` : 'pending', percent: s.progress ?? 0 };
    default:
      return { kind: 'waiting', step: s.error ? `waiting: ${s.error}` : 'waiting for the operator' };
  }
}

/** The Unavailable condition's sentence of a target, if it is unavailable and says why. */
export function targetUnavailableMessage(target: BackupTarget): string | undefined {
  const c = target.status?.conditions?.find((x) => x.type === 'Unavailable' && x.status === 'True');
  if (c === undefined) return undefined;
  return c.message || c.reason || 'unavailable';
}

/**
 * A target after `backup-target set` at `since` (an ISO time), when it said `before` (its
 * Unavailable message then, undefined if none). Done once the operator synced it since
 * (lastSyncedAt, written with available); failed once it says it is unavailable with a new
 * transition or another message than before; else waiting (an old status is not an answer).
 */
export function targetStep(target: BackupTarget, since: string, before: string | undefined): Step {
  const s = target.status ?? {};
  const after = (t: string | undefined) => t !== undefined && t !== '' && Date.parse(t) >= Date.parse(since);
  if (s.available === true && after(s.lastSyncedAt)) return { kind: 'done', step: 'available' };
  const why = targetUnavailableMessage(target);
  const condition = s.conditions?.find((x) => x.type === 'Unavailable' && x.status === 'True');
  const fresh = after(condition?.lastTransitionTime) || after(condition?.lastProbeTime) || why !== before;
  if (s.available !== true && why !== undefined && fresh) {
    return { kind: 'failed', error: `backup target ${target.metadata.name} is unavailable: ${why}` };
  }
  return { kind: 'waiting', step: why === undefined ? 'checking the target' : `checking (was: ${why})` };
}

/** Mean restore progress over the engine's replicas that report one. */
function restorePercent(engine: Engine | undefined): number | undefined {
  const statuses = Object.values(engine?.status?.restoreStatus ?? {});
  const values = statuses.map((r) => r.progress).filter((p): p is number => typeof p === 'number');
  if (values.length === 0) return undefined;
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/**
 * A volume restoring from `backupName`. A standby (DR) volume is done when its engine has
 * restored a backup and is not restoring (it keeps restoring later ones); another when the operator has cleared
 * `restoreRequired` after `seenRestoring` (the caller saw it true, or the engine restoring).
 * Failed when the Restore condition says RestoreFailure (Longhorn's reason).
 */
export function restoreStep(
  volume: Volume,
  engine: Engine | undefined,
  backupName: string,
  seenRestoring: boolean,
): Step {
  const name = volume.metadata.name;
  const s = volume.status ?? {};
  const failure = s.conditions?.find((c) => c.type === 'Restore' && c.reason === 'RestoreFailure');
  if (failure !== undefined) {
    return { kind: 'failed', error: `volume ${name}: restore failed: ${failure.message || failure.reason}` };
  }
  // A replica's error alone is not the end: the operator tries again, and says so in the condition.
  const replicaError = Object.values(engine?.status?.restoreStatus ?? {}).find((r) => r.error)?.error;
  const restored = engine?.status?.lastRestoredBackup === backupName;
  const percent = restorePercent(engine);
  if (volume.spec.Standby) {
    // A standby volume follows the newest backup of its volume, which may be newer than the one
    // asked for: done once its first restore is in, whichever backup that was.
    const holds = engine?.status?.lastRestoredBackup ?? '';
    const busy = Object.values(engine?.status?.restoreStatus ?? {}).some((r) => r.isRestoring === true);
    if (holds !== '' && !busy) return { kind: 'done', step: `standby, holds ${holds}` };
    return { kind: 'waiting', step: 'restoring (standby)', percent };
  }
  // Restored: the operator then lets its restore ticket go and the volume detaches (unless
  // another ticket holds it); the data is whole already, so that is not waited for.
  if (s.restoreRequired === false && (seenRestoring || restored)) return { kind: 'done', step: 'restored' };
  if (s.restoreRequired === true) {
    const step = replicaError ? `retrying after: ${replicaError}` : `restoring (${s.state || 'pending'})`;
    return { kind: 'waiting', step, percent };
  }
  return { kind: 'waiting', step: `waiting for the operator (${s.state || 'pending'})` };
}

/** Whether a poll shows the restore under way (for `seenRestoring`). */
export function isRestoring(volume: Volume, engine: Engine | undefined): boolean {
  return (
    volume.status?.restoreRequired === true ||
    Object.values(engine?.status?.restoreStatus ?? {}).some((r) => r.isRestoring === true)
  );
}
