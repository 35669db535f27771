/**
 * Which Longhorn volumes a pod uses: its PVCs (named, or generic ephemeral ones) that are bound
 * to PVs of the CSI driver driver.longhorn.io, whose volumeHandle is the Longhorn Volume's name.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { CSI_DRIVER_NAME, type DataLocality, type Replica } from '@longhorn-ts/api';
import type { ClusterView } from './cluster-view.js';

export interface LonghornVolumeUse {
  /** The PVC through which the pod uses the volume. */
  claim: string;
  /** The Longhorn Volume name (the PV's volumeHandle). */
  volume: string;
  /** From the Volume CR; `disabled` while the CR is not (yet) in the cache. */
  dataLocality: DataLocality;
  /** Nodes holding a healthy replica. */
  healthyNodes: ReadonlySet<string>;
  /** Some replica has been given a node: the volume's data has a place (else: not provisioned yet). */
  placed: boolean;
}

/**
 * A replica whose data can serve the pod on its node. Not failed and not being deleted, and
 * either running or complete at rest (healthyAt set): a detached volume's replicas are stopped,
 * and a strict-local pod must still go where their data is, or the volume never attaches.
 */
export function isHealthyReplica(r: Replica): boolean {
  if (!r.spec?.nodeID || r.spec.failedAt || r.metadata.deletionTimestamp) return false;
  return r.status?.currentState === 'running' || Boolean(r.spec.healthyAt);
}

/** A scheduled replica of a volume that has not served yet: placed, never failed, not deleted. */
export function isFreshReplica(r: Replica): boolean {
  return Boolean(r.spec?.nodeID) && !r.spec.failedAt && !r.spec.healthyAt && !r.metadata.deletionTimestamp;
}

/** PVC names a pod refers to: `persistentVolumeClaim.claimName`, and `<pod>-<volume>` for ephemeral ones. */
export function claimNamesOf(pod: V1Pod): string[] {
  const names: string[] = [];
  for (const v of pod.spec?.volumes ?? []) {
    const claim = v.persistentVolumeClaim?.claimName;
    if (typeof claim === 'string' && claim !== '') names.push(claim);
    else if (v.ephemeral && typeof v.name === 'string') names.push(`${pod.metadata?.name}-${v.name}`);
  }
  return names;
}

/**
 * The pod's Longhorn volumes. A claim that is missing, not bound yet, or bound to another
 * driver's PV is not ours (yet) and has no say in where the pod goes.
 */
export function longhornVolumesOf(pod: V1Pod, view: ClusterView): LonghornVolumeUse[] {
  const namespace = pod.metadata?.namespace || 'default';
  const uses: LonghornVolumeUse[] = [];
  for (const claim of claimNamesOf(pod)) {
    const pvName = view.pvc(namespace, claim)?.spec?.volumeName;
    if (!pvName) continue;
    const csi = view.pv(pvName)?.spec?.csi;
    if (csi?.driver !== CSI_DRIVER_NAME || !csi.volumeHandle) continue;
    const volume = csi.volumeHandle;
    const healthyNodes = new Set<string>();
    let placed = false;
    const replicas = view.replicasOf(volume);
    for (const r of replicas) {
      if (r.spec?.nodeID) placed = true;
      if (isHealthyReplica(r)) healthyNodes.add(r.spec.nodeID as string);
    }
    // A volume that never served (no replica running or ever healthy): its data will be where its
    // replicas were scheduled, so those nodes count, or a strict-local pod could never be placed
    // (the volume attaches only once its pod is).
    if (healthyNodes.size === 0 && replicas.every((r) => !r.spec?.healthyAt && !r.spec?.failedAt)) {
      for (const r of replicas) if (isFreshReplica(r)) healthyNodes.add(r.spec.nodeID as string);
    }
    const dataLocality = view.volume(volume)?.spec?.dataLocality ?? 'disabled';
    uses.push({ claim, volume, dataLocality, healthyNodes, placed });
  }
  return uses;
}
