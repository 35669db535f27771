/**
 * Backups and backup targets as the plugin prints them (pure): `backup list` (one row per
 * Backup CR), `backup get` (one backup in full) and `backup-target get`.
 */
import type { Backup, BackupTarget } from '@longhorn-ts/api';
import { targetUnavailableMessage } from '../kube/backup-progress.js';
import { backupVolumeOf } from '../kube/backup-spec.js';
import { formatAge, formatBytes, orDash, renderTable } from '../output/format.js';
import { renderConditions } from './volume.js';

/** When a backup was made: the backupstore's time, else when the CR was created. */
function createdOf(b: Backup): string | undefined {
  return b.status?.backupCreatedAt || b.metadata.creationTimestamp;
}

/** The state with its progress while it runs: `InProgress 42%`. */
export function backupStateOf(b: Backup): string {
  const state = b.status?.state || 'Pending';
  return state === 'InProgress' ? `${state} ${b.status?.progress ?? 0}%` : state;
}

function sizeOf(b: Backup): string {
  return b.status?.size ? formatBytes(b.status.size) : '-';
}

/** Newest first, as a user looks for the last backup. */
function byCreatedDesc(a: Backup, b: Backup): number {
  const ta = Date.parse(createdOf(a) ?? '') || 0;
  const tb = Date.parse(createdOf(b) ?? '') || 0;
  return tb - ta || a.metadata.name.localeCompare(b.metadata.name);
}

export function renderBackupList(backups: readonly Backup[], wide: boolean, now: number): string {
  const headers = ['name', 'volume', 'snapshot', 'size', 'state', 'created'];
  if (wide) headers.push('target', 'compression', 'url');
  const rows = [...backups].sort(byCreatedDesc).map((b) => {
    const row = [
      b.metadata.name,
      orDash(backupVolumeOf(b)),
      orDash(b.status?.snapshotName || b.spec.snapshotName),
      sizeOf(b),
      backupStateOf(b),
      formatAge(createdOf(b), now),
    ];
    if (wide) {
      row.push(
        orDash(b.status?.backupTargetName),
        orDash(b.status?.compressionMethod),
        orDash(b.status?.url),
      );
    }
    return row;
  });
  return renderTable(headers, rows);
}

function labelsOf(labels: Record<string, string> | undefined): string {
  const entries = Object.entries(labels ?? {});
  return entries.length === 0 ? '-' : entries.map(([k, v]) => `${k}=${v}`).join(',');
}

export function renderBackupDetail(b: Backup, now: number): string {
  const s = b.status ?? {};
  const created = createdOf(b);
  const lines = [
    `Name:            ${b.metadata.name}`,
    `Volume:          ${orDash(backupVolumeOf(b))}${s.volumeSize ? ` (${formatBytes(s.volumeSize)})` : ''}`,
    `Snapshot:        ${orDash(s.snapshotName || b.spec.snapshotName)}${s.snapshotCreatedAt ? ` (taken ${s.snapshotCreatedAt})` : ''}`,
    `Backup target:   ${orDash(s.backupTargetName)}`,
    `State:           ${s.state || 'Pending'}`,
    `Progress:        ${s.progress ?? 0}%`,
    `Size:            ${sizeOf(b)}${s.size ? ` (${s.size} bytes)` : ''}`,
    `Uploaded:        ${s.newlyUploadDataSize ? formatBytes(s.newlyUploadDataSize) : '-'} new, ${s.reUploadedDataSize ? formatBytes(s.reUploadedDataSize) : '-'} re-uploaded`,
    `Compression:     ${orDash(s.compressionMethod)}`,
    `URL:             ${orDash(s.url)}`,
    `Labels:          ${labelsOf(s.labels ?? b.spec.labels)}`,
    `Created:         ${orDash(created)}${created ? ` (${formatAge(created, now)} ago)` : ''}`,
    `Owner:           ${orDash(s.ownerID)}`,
  ];
  if (s.error) lines.push(`Error:           ${s.error}`);
  const messages = Object.entries(s.messages ?? {});
  if (messages.length > 0) lines.push('Messages:', ...messages.map(([k, v]) => `  ${k}: ${v}`));
  return lines.join('\n');
}

export function renderBackupTarget(t: BackupTarget, now: number): string {
  const s = t.status ?? {};
  const why = targetUnavailableMessage(t);
  const synced = s.lastSyncedAt;
  const lines = [
    `Name:               ${t.metadata.name}`,
    `URL:                ${orDash(t.spec.backupTargetURL)}`,
    `Credential secret:  ${orDash(t.spec.credentialSecret)}`,
    `Poll interval:      ${orDash(t.spec.pollInterval)}`,
    `Available:          ${s.available === true ? 'true' : 'false'}`,
    `Message:            ${orDash(s.available === true ? undefined : why)}`,
    `Last synced:        ${orDash(synced)}${synced ? ` (${formatAge(synced, now)} ago)` : ''}`,
    `Owner:              ${orDash(s.ownerID)}`,
    'Conditions:',
    ...renderConditions(s.conditions).map((l) => `  ${l}`),
  ];
  return lines.join('\n');
}
