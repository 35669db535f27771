/**
 * When every replica has failed (Longhorn's auto-salvage in ReconcileVolumeState):
 * the volume is faulted, ticket arbitration detaches it, and once it is detached the replicas
 * that held data and failed within a minute of the newest failure are brought back (their
 * failure cleared); the engine is asked to pick the best of them at its next start, and the
 * workload is asked to remount. A faulted volume that has usable replicas again (a node came
 * back) becomes unknown and asks for a remount too. An engine that dies under an attached
 * volume faults it.
 */

import { isHealthy, parseTime, type VolumePass } from './volume-pass.js';

/** Longhorn's AutoSalvageTimeLimit. */
export const AUTO_SALVAGE_WINDOW_MS = 60_000;

export function isAutoSalvageNeeded(pass: VolumePass): boolean {
  const rs = pass.replicas;
  if (rs.length === 0) return false;
  const firstAttachment = rs.every((r) => r.healthyAt === '');
  if (firstAttachment) return rs.every((r) => r.failedAt !== '');
  return !rs.some((r) => isHealthy(r, true)) && rs.some((r) => r.failedAt !== '');
}

/** Returns true when the pass must end here (Longhorn returns before the attach/detach step). */
export function reconcileSalvage(pass: VolumePass): boolean {
  const { volume, status, observed } = pass;
  const engine = pass.engine;
  if (engine?.salvageRequested && engine.salvageExecuted) {
    engine.salvageRequested = false;
    pass.emit({ kind: 'clearSalvageRequest' });
  }
  const restoring = volume.status.isStandby === true || volume.status.restoreRequired === true;

  if (isAutoSalvageNeeded(pass)) {
    status.robustness = 'faulted';
    if (!observed.settings.autoSalvage || restoring) return false;
    if (engine !== undefined && !engine.salvageRequested) {
      engine.salvageRequested = true;
      pass.emit({ kind: 'requestSalvage' });
    }
    if (status.state !== 'detached') return false;

    const withData = pass.replicas.filter((r) => r.healthyAt !== '');
    if (withData.length === 0) {
      pass.event(
        'Warning',
        'AutoSalvageFailed',
        `failed to auto salvage volume ${volume.name}: no data exists`,
      );
      return false;
    }
    const candidates = withData.filter(
      (r) =>
        r.nodeID !== '' &&
        r.diskID !== '' &&
        !r.nodeDown &&
        r.diskSchedulable &&
        parseTime(r.failedAt) !== undefined,
    );
    const newest = Math.max(...candidates.map((r) => parseTime(r.failedAt)!));
    let salvaged = false;
    for (const r of candidates) {
      if (parseTime(r.failedAt)! + AUTO_SALVAGE_WINDOW_MS > newest) {
        r.failedAt = '';
        pass.emit({ kind: 'salvageReplica', replica: r.name });
        pass.event(
          'Warning',
          'AutoSalvaged',
          `Replica ${r.name} of volume ${volume.name} will be automatically salvaged`,
        );
        salvaged = true;
      }
    }
    if (salvaged) {
      status.lastAutoSalvagedAt = pass.now;
      status.remountRequestedAt = pass.now;
      status.robustness = 'unknown';
      pass.event(
        'Normal',
        'Remount',
        `Volume ${volume.name} requested remount after automatically salvaging replicas`,
      );
      return true;
    }
    return false;
  }

  if (status.robustness === 'faulted' && status.state === 'detached') {
    status.robustness = 'unknown';
    status.remountRequestedAt = pass.now;
    pass.event('Normal', 'Remount', `Volume ${volume.name} requested remount`);
    return true;
  }

  if (engine?.currentState === 'error') {
    const attachedOrAttaching =
      status.currentNodeID !== '' ||
      (volume.spec.nodeID !== '' && status.currentNodeID === '' && status.state !== 'attached');
    if (attachedOrAttaching) {
      status.robustness = 'faulted';
      pass.event('Warning', 'DetachedUnexpectedly', `Engine of volume ${volume.name} dead unexpectedly`);
    }
  }
  return false;
}
