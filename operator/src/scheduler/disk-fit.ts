/**
 * The two space inequalities a disk must satisfy to take one more replica, with Longhorn's
 * wording for each failure (users and runbooks search for these sentences).
 *
 * Both percentages are integers from the Settings storage-minimal-available-percentage and
 * storage-over-provisioning-percentage. Byte counts are JS numbers: exact up to 8 PiB.
 */

export interface DiskSpace {
  /** Size of the file system the disk lives on (Node status storageMaximum). */
  storageMaximum: number;
  /** Free bytes on that file system right now (Node status storageAvailable). */
  storageAvailable: number;
  /** Bytes the user keeps away from Longhorn (Node spec storageReserved). */
  storageReserved: number;
  /** Sum of the nominal sizes of the replicas already scheduled to this disk. */
  storageScheduled: number;
}

export interface SpaceSettings {
  /** storage-over-provisioning-percentage (Longhorn default 100). */
  overProvisioningPercentage: number;
  /** storage-minimal-available-percentage (Longhorn default 25). */
  minimalAvailablePercentage: number;
}

export const DEFAULT_SPACE_SETTINGS: Readonly<SpaceSettings> = Object.freeze({
  overProvisioningPercentage: 100,
  minimalAvailablePercentage: 25,
});

export type DiskFit = { fits: true } | { fits: false; reason: string };

/** `value * percentage / 100`, truncated toward zero as Longhorn's int64 conversion does. */
export function percentOf(value: number, percentage: number): number {
  return Math.trunc((value * percentage) / 100);
}

/**
 * Can a replica of nominal `size` bytes, whose volume currently occupies `actualSize` bytes on
 * disk, go to this disk?
 *
 * 1. actual space: available - actualSize > maximum * minimalAvailable%   (the disk never fills)
 * 2. scheduling:   size + scheduled <= (maximum - reserved) * overProvisioning%
 *
 * For a size-only question (e.g. expansion) pass actualSize 0.
 */
export function diskFit(disk: DiskSpace, size: number, actualSize: number, settings: SpaceSettings): DiskFit {
  if (disk.storageMaximum <= 0) return { fits: false, reason: 'Storage Max must be greater than 0' };
  if (disk.storageAvailable <= 0) return { fits: false, reason: 'Storage Available must be greater than 0' };

  const currentAvailable = disk.storageAvailable - actualSize;
  const minimalAvailable = percentOf(disk.storageMaximum, settings.minimalAvailablePercentage);
  if (currentAvailable <= minimalAvailable) {
    return {
      fits: false,
      reason:
        `Actual space usage condition failed: CurrentAvailable = ${currentAvailable} (StorageAvailable - Required) ` +
        `is less than or equal to MinimalAvailable = ${minimalAvailable} ` +
        `(${settings.minimalAvailablePercentage}% of Storage Max).`,
    };
  }

  const scheduledTotal = size + disk.storageScheduled;
  const provisionedLimit = percentOf(
    disk.storageMaximum - disk.storageReserved,
    settings.overProvisioningPercentage,
  );
  if (scheduledTotal > provisionedLimit) {
    return {
      fits: false,
      reason:
        `Scheduling space condition failed: ScheduledTotal = ${scheduledTotal} (Size + StorageScheduled) ` +
        `is greater than ProvisionedLimit = ${provisionedLimit} ` +
        `(${settings.overProvisioningPercentage}% of StorageMax - StorageReserved).`,
    };
  }
  return { fits: true };
}
