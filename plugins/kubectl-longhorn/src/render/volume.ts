/**
 * Volumes as the plugin prints them (pure): the list (`volume list`) and the detail of one
 * (`volume get`): engine, replicas with node, zone, mode, health and rebuild progress, the
 * snapshot tree, conditions, attachment tickets and recent events; encryption in encryption.ts.
 */
import type { CoreV1Event } from '@kubernetes/client-node';
import type {
  Engine,
  Node,
  PvSecretRefs,
  Replica,
  Snapshot,
  Volume,
  VolumeAttachment,
} from '@longhorn-ts/api';
import { formatAge, formatBytes, orDash, renderTable } from '../output/format.js';
import { encryptionLines } from './encryption.js';
import { renderSnapshotTree, snapshotNodes } from './snapshot-tree.js';

export function scheduledOf(v: Volume): string {
  const c = v.status?.conditions?.find((x) => x.type === 'Scheduled');
  return c?.status ?? '';
}

export function renderVolumeList(volumes: readonly Volume[], wide: boolean, now: number): string {
  const headers = ['name', 'state', 'robustness', 'scheduled', 'size', 'node', 'age'];
  if (wide) headers.push('replicas', 'data-locality', 'access-mode', 'frontend', 'actual-size', 'owner');
  const rows = [...volumes]
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))
    .map((v) => {
      const row = [
        v.metadata.name,
        orDash(v.status?.state),
        orDash(v.status?.robustness),
        orDash(scheduledOf(v)),
        formatBytes(v.spec.size),
        orDash(v.status?.currentNodeID),
        formatAge(v.metadata.creationTimestamp, now),
      ];
      if (wide) {
        row.push(
          String(v.spec.numberOfReplicas ?? '-'),
          orDash(v.spec.dataLocality),
          orDash(v.spec.accessMode),
          orDash(v.spec.frontend),
          formatBytes(v.status?.actualSize),
          orDash(v.status?.ownerID),
        );
      }
      return row;
    });
  return renderTable(headers, rows);
}

export interface ReplicaRow {
  name: string;
  node: string;
  zone: string;
  disk: string;
  state: string;
  mode: string;
  health: string;
  rebuild: string;
  address: string;
}

/** One replica as `volume get` shows it, from the Replica CR, the engine's maps and its Node. */
export function replicaRow(r: Replica, engine: Engine | undefined, nodes: readonly Node[]): ReplicaRow {
  const name = r.metadata.name;
  const nodeID = r.spec.nodeID ?? '';
  const node = nodes.find((n) => n.metadata.name === nodeID);
  const mode = engine?.status?.replicaModeMap?.[name] ?? '';
  const address = engine?.status?.currentReplicaAddressMap?.[name] ?? '';
  const rebuild = address === '' ? undefined : engine?.status?.rebuildStatus?.[address];
  let health: string;
  if (r.spec.failedAt) health = 'failed';
  else if (nodeID === '') health = 'unscheduled';
  else if (mode === 'ERR') health = 'error';
  else if (mode === 'WO' || rebuild?.isRebuilding) health = 'rebuilding';
  else if (mode === 'RW') health = 'healthy';
  else if (r.spec.healthyAt) health = 'healthy (detached)';
  else health = 'new';
  const disk = Object.entries(node?.spec.disks ?? {}).find(
    ([, d]) => d.path !== undefined && d.path === r.spec.diskPath,
  )?.[0];
  return {
    name,
    node: nodeID,
    zone: node?.status?.zone ?? '',
    disk: disk ?? r.spec.diskPath ?? '',
    state: r.status?.currentState ?? '',
    mode,
    health,
    rebuild: rebuild?.isRebuilding ? `${rebuild.progress ?? 0}%` : '',
    address,
  };
}

export interface VolumeDetail {
  volume: Volume;
  engine: Engine | undefined;
  replicas: Replica[];
  nodes: Node[];
  snapshots: Snapshot[];
  attachment: VolumeAttachment | undefined;
  events: CoreV1Event[];
  /** The secret references of the volume's PersistentVolume (encrypted volumes made through CSI). */
  persistentVolume?: PvSecretRefs | undefined;
}

function indent(lines: readonly string[], by = '  '): string[] {
  return lines.flatMap((l) => l.split('\n')).map((l) => `${by}${l}`);
}

export function renderConditions(
  conditions: readonly { type: string; status: string; reason?: string; message?: string }[] | undefined,
): string[] {
  if (!conditions || conditions.length === 0) return ['(none)'];
  return renderTable(
    ['type', 'status', 'reason', 'message'],
    conditions.map((c) => [c.type, c.status, orDash(c.reason), orDash(c.message)]),
  ).split('\n');
}

/** client-node turns timestamps into Dates; JSON (and tests) have strings. */
export function isoOf(t: unknown): string {
  if (t instanceof Date) return Number.isNaN(t.getTime()) ? '' : t.toISOString();
  return typeof t === 'string' ? t : '';
}

export function renderEvents(events: readonly CoreV1Event[], now: number, limit = 10): string[] {
  if (events.length === 0) return ['(none)'];
  const when = (e: CoreV1Event) =>
    isoOf(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata.creationTimestamp);
  const recent = [...events].sort((a, b) => when(a).localeCompare(when(b))).slice(-limit);
  return renderTable(
    ['last seen', 'type', 'reason', 'object', 'message'],
    recent.map((e) => [
      formatAge(when(e) || undefined, now),
      orDash(e.type),
      orDash(e.reason),
      `${(e.involvedObject.kind ?? '').toLowerCase()}/${e.involvedObject.name ?? ''}`,
      orDash(e.message?.split('\n')[0]),
    ]),
  ).split('\n');
}

export function renderTickets(attachment: VolumeAttachment | undefined): string[] {
  const tickets = Object.entries(attachment?.spec.attachmentTickets ?? {});
  if (tickets.length === 0) return ['(none)'];
  return renderTable(
    ['ticket', 'type', 'node', 'frontend', 'satisfied'],
    tickets
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([id, t]) => {
        const st = attachment?.status?.attachmentTicketStatuses?.[id];
        const current = st !== undefined && (st.generation ?? 0) === (t.generation ?? 0);
        const df = t.parameters?.disableFrontend;
        return [
          id,
          orDash(t.type),
          orDash(t.nodeID),
          df === 'true' ? 'disabled' : df === 'any' ? 'any' : 'enabled',
          current ? String(st.satisfied) : 'pending',
        ];
      }),
  ).split('\n');
}

/** spec.qos as `iops 500, writeBandwidth 1 MiB/s`, and what the engine reports it throttled. */
export function qosOf(v: Volume): string {
  const limits = Object.entries(v.spec.qos ?? {}).filter(([, n]) => n !== undefined);
  if (limits.length === 0) return '-';
  const text = limits
    .map(([k, n]) => (k.toLowerCase().includes('bandwidth') ? `${k} ${formatBytes(n)}/s` : `${k} ${n}`))
    .join(', ');
  const q = v.status?.qos;
  return q?.throttledRequests
    ? `${text} (throttled ${q.throttledRequests} requests, ${q.throttledMs ?? 0} ms)`
    : text;
}

/** Where a restored volume comes from and how far it is; the last backup of any volume. */
export function backupLines(v: Volume): string[] {
  const s = v.status ?? {};
  const lines: string[] = [];
  if (v.spec.fromBackup) {
    const standby = v.spec.Standby || s.isStandby;
    const phase = standby
      ? 'standby'
      : s.restoreRequired
        ? 'restoring'
        : s.restoreInitiated
          ? 'restored'
          : 'pending';
    lines.push(`From backup:     ${v.spec.fromBackup} (${phase})`);
  }
  if (s.lastBackup)
    lines.push(`Last backup:     ${s.lastBackup}${s.lastBackupAt ? ` (${s.lastBackupAt})` : ''}`);
  return lines;
}

export function renderVolumeDetail(d: VolumeDetail, now: number): string {
  const v = d.volume;
  const e = d.engine;
  const lines: string[] = [
    `Name:            ${v.metadata.name}`,
    `Namespace:       ${v.metadata.namespace ?? ''}`,
    `Size:            ${formatBytes(v.spec.size)} (${v.spec.size ?? '0'} bytes)`,
    `Actual size:     ${formatBytes(v.status?.actualSize)}`,
    `State:           ${orDash(v.status?.state)}`,
    `Robustness:      ${orDash(v.status?.robustness)}`,
    `Attached to:     ${orDash(v.status?.currentNodeID)}${v.status?.frontendDisabled ? ' (no frontend)' : ''}`,
    `Replicas wanted: ${v.spec.numberOfReplicas ?? '-'}`,
    `Data locality:   ${orDash(v.spec.dataLocality)}`,
    `Access mode:     ${orDash(v.spec.accessMode)}`,
    `Frontend:        ${orDash(v.spec.frontend)}`,
    `Node selector:   ${(v.spec.nodeSelector ?? []).join(',') || '-'}`,
    `Disk selector:   ${(v.spec.diskSelector ?? []).join(',') || '-'}`,
    `QoS limits:      ${qosOf(v)}`,
    ...encryptionLines(v, d.persistentVolume, now),
    ...backupLines(v),
    `Owner:           ${orDash(v.status?.ownerID)}`,
    `Created:         ${orDash(v.metadata.creationTimestamp)} (${formatAge(v.metadata.creationTimestamp, now)} ago)`,
    'Engine:',
  ];
  if (e === undefined) lines.push('  (none)');
  else {
    lines.push(
      ...indent([
        `Name:       ${e.metadata.name}`,
        `Node:       ${orDash(e.spec.nodeID || e.status?.ownerID)}`,
        `State:      ${orDash(e.status?.currentState)}`,
        `Endpoint:   ${orDash(e.status?.endpoint)}`,
        `Size:       ${formatBytes(e.status?.currentSize ?? e.spec.volumeSize)}`,
        ...(e.status?.isExpanding ? ['Expanding:  yes'] : []),
        ...(e.status?.lastExpansionError ? [`Last expansion error: ${e.status.lastExpansionError}`] : []),
      ]),
    );
  }
  lines.push('Replicas:');
  if (d.replicas.length === 0) lines.push('  (none)');
  else {
    const rows = d.replicas
      .map((r) => replicaRow(r, e, d.nodes))
      .sort((a, b) => a.node.localeCompare(b.node) || a.name.localeCompare(b.name));
    lines.push(
      ...indent(
        renderTable(
          ['name', 'node', 'zone', 'disk', 'state', 'mode', 'health', 'rebuild'],
          rows.map((r) => [
            r.name,
            orDash(r.node),
            orDash(r.zone),
            orDash(r.disk),
            orDash(r.state),
            orDash(r.mode),
            r.health,
            orDash(r.rebuild),
          ]),
        ).split('\n'),
      ),
    );
  }
  lines.push(
    'Snapshots:',
    ...indent(renderSnapshotTree(snapshotNodes(d.snapshots, e?.status?.snapshots), now)),
  );
  lines.push('Conditions:', ...indent(renderConditions(v.status?.conditions)));
  lines.push('Attachment tickets:', ...indent(renderTickets(d.attachment)));
  lines.push('Events:', ...indent(renderEvents(d.events, now)));
  return lines.join('\n');
}
