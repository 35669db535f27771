/**
 * When a snapshot revert must be refused (pure): Longhorn reverts only in maintenance mode, so a
 * volume attached with its frontend (a workload may be using it) is refused; a detached one is
 * attached in maintenance mode by the plugin for the revert; one on its way is asked to settle.
 */
import type { Node, Replica, Volume } from '@longhorn-ts/api';

export function revertRefusal(volume: Volume, snapshot: string): string | undefined {
  const name = volume.metadata.name;
  const state = volume.status?.state ?? '';
  const node = volume.status?.currentNodeID ?? '';
  if (state === 'attached' && volume.status?.frontendDisabled !== true) {
    return (
      `volume ${name} is attached to ${node} with its frontend: a revert would change data under its users. ` +
      `Stop the workload, detach it (kubectl longhorn volume detach ${name}) and revert to ${snapshot} again: ` +
      'the plugin then attaches it in maintenance mode (--no-frontend) for the revert'
    );
  }
  if (state !== 'attached' && state !== 'detached') {
    return `volume ${name} is ${state || 'not ready'}: revert once it is detached (or attached with --no-frontend)`;
  }
  if (volume.status?.robustness === 'faulted') {
    return `volume ${name} is faulted: salvage it first (kubectl longhorn volume salvage ${name})`;
  }
  return undefined;
}

/** Where to attach a detached volume for a revert: the first ready node holding a healthy replica. */
export function maintenanceNode(replicas: readonly Replica[], nodes: readonly Node[]): string | undefined {
  const ready = new Set(
    nodes
      .filter((n) => n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True')
      .map((n) => n.metadata.name),
  );
  return replicas
    .filter((r) => r.spec.healthyAt && !r.spec.failedAt && ready.has(r.spec.nodeID ?? ''))
    .map((r) => r.spec.nodeID ?? '')
    .sort()[0];
}
