import { VOLUME_CONDITION_REASONS, type Volume } from '@longhorn-ts/api';
import { CsiError, precondition } from '../errors.js';

/**
 * ControllerPublish of a volume restored from a backup (spec.fromBackup), as `cloneGate` does for
 * clones: refused while the restore runs (BUSY, which the attacher retries), and for good once it
 * failed, so no node stages a half-restored volume. Longhorn's markers: status.restoreRequired
 * is true from the volume's creation until the restore is done (restoreInitiated says it
 * started), and the Restore condition carries RestoreFailure when it failed.
 */
export function restoreGate(volume: Volume): void {
  const url = volume.spec.fromBackup;
  if (!url) return;
  const name = volume.metadata.name;
  const restore = volume.status?.conditions?.find((c) => c.type === 'Restore');
  if (restore?.reason === VOLUME_CONDITION_REASONS.restoreFailure)
    throw precondition(
      `volume ${name} could not be restored from ${url}: ${restore.message || 'restore failed'} ` +
        '(see its Events); it holds no usable data: delete it',
    );
  const status = volume.status ?? {};
  // A standby (disaster recovery) volume follows its backups until it is activated.
  if (volume.spec.Standby === true || status.isStandby === true)
    throw precondition(
      `volume ${name} is a standby volume restoring from ${url}: activate it (spec.Standby false) before using it`,
    );
  if (status.restoreInitiated === true && status.restoreRequired === false) return;
  const where =
    status.restoreRequired === true
      ? restore?.message || (status.restoreInitiated ? 'in progress' : 'about to start')
      : 'not started';
  throw new CsiError('BUSY', `volume ${name} is being restored from ${url} (${where}); retry`);
}
