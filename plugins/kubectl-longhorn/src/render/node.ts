/**
 * Longhorn nodes as `node list` prints them (pure): per node readiness, scheduling, zone, tags,
 * space (maximum, used, scheduled, reserved, summed over disks) and conditions that are not
 * True; with -o wide, one row per disk below.
 */
import type { Condition, Node } from '@longhorn-ts/api';
import { formatAge, formatBytes, orDash, renderTable } from '../output/format.js';

export function conditionStatus(conditions: readonly Condition[] | undefined, type: string): string {
  return conditions?.find((c) => c.type === type)?.status ?? 'Unknown';
}

/** Conditions that are not True, as `Type(Reason)`; `-` when every one is. */
export function problems(conditions: readonly Condition[] | undefined): string {
  const bad = (conditions ?? [])
    .filter((c) => c.status !== 'True')
    .map((c) => `${c.type}(${c.reason || c.status})`);
  return bad.length === 0 ? '-' : bad.join(',');
}

export interface DiskSpace {
  maximum: number;
  available: number;
  used: number;
  scheduled: number;
  reserved: number;
}

export function diskSpace(node: Node, disk: string): DiskSpace {
  const st = node.status?.diskStatus?.[disk];
  const maximum = st?.storageMaximum ?? 0;
  const available = st?.storageAvailable ?? 0;
  return {
    maximum,
    available,
    used: Math.max(0, maximum - available),
    scheduled: st?.storageScheduled ?? 0,
    reserved: node.spec.disks?.[disk]?.storageReserved ?? 0,
  };
}

export function nodeSpace(node: Node): DiskSpace {
  const sum: DiskSpace = { maximum: 0, available: 0, used: 0, scheduled: 0, reserved: 0 };
  for (const d of Object.keys(node.spec.disks ?? {})) {
    const s = diskSpace(node, d);
    sum.maximum += s.maximum;
    sum.available += s.available;
    sum.used += s.used;
    sum.scheduled += s.scheduled;
    sum.reserved += s.reserved;
  }
  return sum;
}

/** SCHEDULING of a node or disk: `evicting` while eviction is requested (scheduling is then off). */
export function schedulingOf(spec: { allowScheduling?: boolean; evictionRequested?: boolean }): string {
  if (spec.evictionRequested === true) return 'evicting';
  return spec.allowScheduling === false ? 'disabled' : 'enabled';
}

export function renderNodeList(nodes: readonly Node[], wide: boolean, now: number): string {
  const sorted = [...nodes].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  const table = renderTable(
    [
      'name',
      'ready',
      'schedulable',
      'scheduling',
      'zone',
      'tags',
      'disks',
      'max',
      'used',
      'scheduled',
      'reserved',
      'problems',
      'age',
    ],
    sorted.map((n) => {
      const s = nodeSpace(n);
      return [
        n.metadata.name,
        conditionStatus(n.status?.conditions, 'Ready'),
        conditionStatus(n.status?.conditions, 'Schedulable'),
        schedulingOf(n.spec),
        orDash(n.status?.zone),
        (n.spec.tags ?? []).join(',') || '-',
        String(Object.keys(n.spec.disks ?? {}).length),
        formatBytes(s.maximum),
        formatBytes(s.used),
        formatBytes(s.scheduled),
        formatBytes(s.reserved),
        problems(n.status?.conditions),
        formatAge(n.metadata.creationTimestamp, now),
      ];
    }),
  );
  if (!wide) return table;
  const disks = renderTable(
    [
      'node',
      'disk',
      'path',
      'ready',
      'schedulable',
      'scheduling',
      'tags',
      'max',
      'available',
      'used',
      'scheduled',
      'reserved',
      'replicas',
    ],
    sorted.flatMap((n) =>
      Object.entries(n.spec.disks ?? {})
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, d]) => {
          const st = n.status?.diskStatus?.[name];
          const s = diskSpace(n, name);
          return [
            n.metadata.name,
            name,
            orDash(d.path),
            conditionStatus(st?.conditions, 'Ready'),
            conditionStatus(st?.conditions, 'Schedulable'),
            schedulingOf(d),
            (d.tags ?? []).join(',') || '-',
            formatBytes(s.maximum),
            formatBytes(s.available),
            formatBytes(s.used),
            formatBytes(s.scheduled),
            formatBytes(s.reserved),
            String(Object.keys(st?.scheduledReplica ?? {}).length),
          ];
        }),
    ),
  );
  return `${table}\n\n${disks}`;
}
