/**
 * Node rules (longhorn-manager webhook/resources/node): a disk leaves only when scheduling is
 * off for it and no replica is left on it; reserved storage within the disk; one disk per path;
 * eviction and scheduling not both on; disk types fixed once set.
 */
import { posix } from 'node:path';
import { DISK_DRIVERS, DISK_TYPES, type DiskSpec, type Node } from '@longhorn-ts/api';
import { enumProblem, type Rule } from './rules.js';

function disksOf(node: Node): [string, DiskSpec][] {
  const disks = node.spec.disks;
  return disks && typeof disks === 'object' ? Object.entries(disks) : [];
}

/** `/var/lib/longhorn/` and `/var/lib/longhorn` are one path. */
function cleanPath(path: string): string {
  const clean = posix.normalize(path);
  return clean.length > 1 ? clean.replace(/\/+$/, '') : clean;
}

const nodeFields: Rule<Node> = ({ object: { spec, metadata } }) => {
  if ((spec.instanceManagerCPURequest ?? 0) < 0) {
    return `spec.instanceManagerCPURequest ${spec.instanceManagerCPURequest} is negative; set 0 (the setting's share) or a number of millicpus`;
  }
  if (spec.evictionRequested && spec.allowScheduling) {
    return `node ${metadata.name}: spec.evictionRequested needs spec.allowScheduling false; disable scheduling to evict, or cancel the eviction`;
  }
  return undefined;
};

const diskFields: Rule<Node> = ({ object, ctx }) => {
  for (const [name, disk] of disksOf(object)) {
    const problem =
      enumProblem(`spec.disks.${name}.diskType`, disk.diskType, DISK_TYPES) ??
      enumProblem(`spec.disks.${name}.diskDriver`, disk.diskDriver, DISK_DRIVERS, true);
    if (problem) return problem;
    if (typeof disk.path !== 'string' || !disk.path.startsWith('/')) {
      return `spec.disks.${name}.path ${JSON.stringify(disk.path)} is not an absolute path; write the directory, e.g. /var/lib/longhorn`;
    }
    if (disk.evictionRequested && disk.allowScheduling) {
      return `disk ${name}: evictionRequested needs allowScheduling false; disable scheduling on the disk to evict it, or cancel the eviction`;
    }
    if (disk.diskType === 'block' && !ctx.setting('v2-data-engine')) {
      return `disk ${name} is a block disk, which only data engine v2 uses, and the setting v2-data-engine is false; enable it or use diskType filesystem`;
    }
    if (disk.diskType !== 'block' && disk.diskDriver) {
      return `disk ${name}: diskDriver ${disk.diskDriver} applies to block disks only; remove diskDriver or use diskType block`;
    }
  }
  return undefined;
};

const reservedWithinDisk: Rule<Node> = ({ object }) => {
  for (const [name, disk] of disksOf(object)) {
    const reserved = disk.storageReserved ?? 0;
    if (reserved < 0) {
      return `disk ${name}: storageReserved ${reserved} is negative; set 0 or a number of bytes up to the disk's size`;
    }
    const maximum = object.status?.diskStatus?.[name]?.storageMaximum ?? 0;
    if (maximum > 0 && reserved > maximum) {
      return `disk ${name}: storageReserved ${reserved} is more than the disk holds (storageMaximum ${maximum}); set it to at most ${maximum}`;
    }
  }
  return undefined;
};

const uniquePaths: Rule<Node> = ({ object }) => {
  const seen = new Map<string, string>();
  for (const [name, disk] of disksOf(object)) {
    if (typeof disk.path !== 'string') continue;
    const path = cleanPath(disk.path);
    const other = seen.get(path);
    if (other !== undefined) {
      return `disks ${other} and ${name} both use the path ${path}; give each disk its own directory or remove one`;
    }
    seen.set(path, name);
  }
  return undefined;
};

const diskRemoval: Rule<Node> = ({ object, old }) => {
  if (!old) return undefined;
  const remaining = object.spec.disks ?? {};
  for (const [name, disk] of disksOf(old)) {
    if (Object.hasOwn(remaining, name)) continue;
    const status = old.status?.diskStatus?.[name];
    const replicas = Object.keys(status?.scheduledReplica ?? {});
    if (disk.allowScheduling) {
      return `disk ${name} (${disk.path}) cannot be removed while scheduling is on for it; set spec.disks.${name}.allowScheduling false, let its replicas move away, then remove it`;
    }
    if (replicas.length > 0 || (status?.storageScheduled ?? 0) > 0) {
      const which =
        replicas.length > 0
          ? ` (${replicas.slice(0, 3).join(', ')}${replicas.length > 3 ? ', ...' : ''})`
          : '';
      return `disk ${name} (${disk.path}) still holds ${replicas.length || 'some'} replica(s)${which}; evict them (spec.disks.${name}.evictionRequested true) or delete them, then remove the disk`;
    }
  }
  return undefined;
};

const diskTypeFixed: Rule<Node> = ({ object, old }) => {
  if (!old) return undefined;
  for (const [name, disk] of disksOf(old)) {
    const next = object.spec.disks?.[name];
    if (!next || !disk.diskType || next.diskType === disk.diskType) continue;
    return `disk ${name}: diskType cannot change from ${disk.diskType} to ${next.diskType}; remove the disk and add it again with the new type`;
  }
  return undefined;
};

export const NODE_RULES: readonly Rule<Node>[] = [
  nodeFields,
  diskFields,
  reservedWithinDisk,
  uniquePaths,
  diskRemoval,
  diskTypeFixed,
];

export function nodeWarnings({ object, old }: Parameters<Rule<Node>>[0]): string[] {
  const disks = disksOf(object);
  const scheduling = disks.filter(([, d]) => d.allowScheduling !== false);
  if (disks.length > 0 && scheduling.length === 0 && object.spec.allowScheduling !== false) {
    const before = old ? disksOf(old).filter(([, d]) => d.allowScheduling !== false).length : -1;
    if (before !== 0)
      return [`node ${object.metadata.name}: no disk takes replicas (allowScheduling false on every disk)`];
  }
  return [];
}
