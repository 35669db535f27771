/**
 * PVC resize of a driver.longhorn.io volume: the new size must fit on the disks that hold the
 * volume's replicas, with the scheduler's arithmetic (longhorn-manager
 * ReplicaScheduler.CheckReplicasSizeExpansion): on each disk, growing every replica there by the
 * difference must leave more than storage-minimal-available-percentage of the disk free and
 * keep the scheduled total within (maximum - reserved) x storage-over-provisioning-percentage.
 */

import { CSI_DRIVER_NAME, type Node, type Replica } from '@longhorn-ts/api';
import type { AdmissionContext } from '../admission/context.js';
import { quantityBytes } from './quantity.js';
import type { Rule } from './rules.js';

export interface PersistentVolumeClaim {
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec: {
    volumeName?: string;
    storageClassName?: string;
    resources?: { requests?: Record<string, string> };
  };
}

const PROVISIONER_ANNOTATIONS = [
  'volume.kubernetes.io/storage-provisioner',
  'volume.beta.kubernetes.io/storage-provisioner',
];

export interface DiskFitInput {
  volumeName: string;
  replicas: readonly Replica[];
  node: (name: string) => Node | undefined;
  oldSize: bigint;
  newSize: bigint;
  minimalAvailablePercentage: number;
  overProvisioningPercentage: number;
}

export interface DiskShortfall {
  node: string;
  disk: string;
  replicas: number;
  reason: string;
  /** The largest size this disk allows (old size when it allows no growth). */
  largestSize: bigint;
}

/** The first disk that cannot take the growth, or undefined when every one can. */
export function diskShortfall(input: DiskFitInput): DiskShortfall | string | undefined {
  const growth = input.newSize - input.oldSize;
  if (growth <= 0n) return undefined;
  const perDisk = new Map<string, { node: string; count: number }>();
  for (const replica of input.replicas) {
    if (!replica.spec.nodeID || !replica.spec.diskID) continue;
    const entry = perDisk.get(replica.spec.diskID) ?? { node: replica.spec.nodeID, count: 0 };
    entry.count++;
    perDisk.set(replica.spec.diskID, entry);
  }
  const shortfalls: DiskShortfall[] = [];
  for (const [diskID, { node: nodeName, count }] of perDisk) {
    const node = input.node(nodeName);
    if (!node)
      return `node ${nodeName} of a replica of volume ${input.volumeName} is unknown; retry once it is back`;
    const found = Object.entries(node.status?.diskStatus ?? {}).find(([, s]) => s.diskUUID === diskID);
    if (!found) {
      return `disk ${diskID} of a replica of volume ${input.volumeName} is not on node ${nodeName}; retry once the node reports it`;
    }
    const [diskName, status] = found;
    const reserved = BigInt(node.spec.disks?.[diskName]?.storageReserved ?? 0);
    const maximum = BigInt(status.storageMaximum ?? 0);
    const available = BigInt(status.storageAvailable ?? 0);
    const scheduled = BigInt(status.storageScheduled ?? 0);
    const need = growth * BigInt(count);
    const keepFree = (maximum * BigInt(input.minimalAvailablePercentage)) / 100n;
    const schedulable = ((maximum - reserved) * BigInt(input.overProvisioningPercentage)) / 100n;
    // Largest growth per replica that passes both checks on this disk.
    const byFree = available - keepFree - 1n;
    const bySchedule = schedulable - scheduled;
    const room = (byFree < bySchedule ? byFree : bySchedule) / BigInt(count);
    const largestSize = input.oldSize + (room > 0n ? room : 0n);
    if (available - need <= keepFree) {
      shortfalls.push({
        node: nodeName,
        disk: diskName,
        replicas: count,
        reason: `${available} bytes are free and ${input.minimalAvailablePercentage}% of the disk (${keepFree}) must stay free`,
        largestSize,
      });
    } else if (scheduled + need > schedulable) {
      shortfalls.push({
        node: nodeName,
        disk: diskName,
        replicas: count,
        reason: `${scheduled} bytes are already promised of ${schedulable} schedulable (over-provisioning ${input.overProvisioningPercentage}%)`,
        largestSize,
      });
    }
  }
  if (shortfalls.length === 0) return undefined;
  return shortfalls.reduce((a, b) => (b.largestSize < a.largestSize ? b : a));
}

function requestedBytes(pvc: PersistentVolumeClaim | undefined): bigint | undefined {
  return quantityBytes(pvc?.spec?.resources?.requests?.storage);
}

/** The Longhorn volume behind a PVC, or undefined when the PVC is not ours. */
function longhornVolumeName(pvc: PersistentVolumeClaim, ctx: AdmissionContext): string | undefined {
  const volumeName = pvc.spec.volumeName;
  if (!volumeName) return undefined;
  const annotations = pvc.metadata.annotations ?? {};
  const ours = PROVISIONER_ANNOTATIONS.some((a) => annotations[a] === CSI_DRIVER_NAME);
  return ours || ctx.volume(volumeName) !== undefined ? volumeName : undefined;
}

const fits: Rule<PersistentVolumeClaim> = ({ object, old, ctx }) => {
  if (!old) return undefined;
  const before = requestedBytes(old);
  const after = requestedBytes(object);
  if (before === undefined || after === undefined || after <= before) return undefined;
  const volumeName = longhornVolumeName(object, ctx);
  if (volumeName === undefined || ctx.volume(volumeName) === undefined) return undefined;
  const problem = diskShortfall({
    volumeName,
    replicas: ctx.replicasOf(volumeName),
    node: (name) => ctx.node(name),
    oldSize: before,
    newSize: after,
    minimalAvailablePercentage: ctx.setting('storage-minimal-available-percentage'),
    overProvisioningPercentage: ctx.setting('storage-over-provisioning-percentage'),
  });
  if (problem === undefined) return undefined;
  const pvc = `PVC ${object.metadata.namespace ?? ''}/${object.metadata.name}`;
  if (typeof problem === 'string') return `${pvc} cannot grow to ${after} bytes now: ${problem}`;
  const fitHint = problem.largestSize > before ? `ask for at most ${problem.largestSize} bytes, or ` : '';
  return (
    `${pvc} cannot grow to ${after} bytes: disk ${problem.disk} on node ${problem.node} holds ${problem.replicas} ` +
    `replica(s) of volume ${volumeName} and ${problem.reason}; ${fitHint}free space on that disk or add a disk and move the replica`
  );
};

export const PVC_RULES: readonly Rule<PersistentVolumeClaim>[] = [fits];

export { longhornVolumeName as pvcLonghornVolumeName };
