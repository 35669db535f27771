import { createHash } from 'node:crypto';
import { BackupError } from './errors.js';

/**
 * Where things live in a backupstore, exactly as Longhorn lays it out, so a store written by
 * either restores in the other. Paths are relative to the target's root (the path in its URL):
 *
 *   backupstore/volumes/<h[0:2]>/<h[2:4]>/<volume>/volume.cfg
 *                                         .../backups/backup_<backup>.cfg
 *                                         .../blocks/<c[0:2]>/<c[2:4]>/<c>.blk
 *                                         .../locks/<lock>.lck
 *
 * h = hex SHA-512 of the volume name, c = a block's checksum (see block-checksum.ts).
 */
export const BACKUPSTORE_BASE = 'backupstore';
export const VOLUMES_DIR = `${BACKUPSTORE_BASE}/volumes`;
export const VOLUME_CFG = 'volume.cfg';
export const BACKUP_PREFIX = 'backup_';
export const CFG_SUFFIX = '.cfg';
export const BLOCK_SUFFIX = '.blk';
export const LOCK_SUFFIX = '.lck';

/** Longhorn's name rule for volumes, backups and locks. */
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export function isValidName(name: string): boolean {
  return NAME.test(name);
}

export function checkName(kind: 'volume' | 'backup', name: string): string {
  if (typeof name !== 'string' || !isValidName(name)) {
    throw new BackupError(
      'INVALID_ARGUMENT',
      `invalid ${kind} name ${JSON.stringify(name)}: expected [a-zA-Z0-9][a-zA-Z0-9_.-]+`,
      { [kind]: String(name) },
    );
  }
  return name;
}

export function volumeDir(volume: string): string {
  checkName('volume', volume);
  const h = createHash('sha512').update(volume).digest('hex');
  return `${VOLUMES_DIR}/${h.slice(0, 2)}/${h.slice(2, 4)}/${volume}`;
}

export function volumeCfgPath(volume: string): string {
  return `${volumeDir(volume)}/${VOLUME_CFG}`;
}

export function backupsDir(volume: string): string {
  return `${volumeDir(volume)}/backups`;
}

export function backupCfgPath(volume: string, backup: string): string {
  checkName('backup', backup);
  return `${backupsDir(volume)}/${BACKUP_PREFIX}${backup}${CFG_SUFFIX}`;
}

export function blocksDir(volume: string): string {
  return `${volumeDir(volume)}/blocks`;
}

export function blockPath(volume: string, checksum: string): string {
  return `${blocksDir(volume)}/${checksum.slice(0, 2)}/${checksum.slice(2, 4)}/${checksum}${BLOCK_SUFFIX}`;
}

export function locksDir(volume: string): string {
  return `${volumeDir(volume)}/locks`;
}

export function lockPath(volume: string, lock: string): string {
  return `${locksDir(volume)}/${lock}${LOCK_SUFFIX}`;
}

/** The backup name in a file name `backup_<name>.cfg`, or undefined for anything else. */
export function backupNameOf(file: string): string | undefined {
  if (!file.startsWith(BACKUP_PREFIX) || !file.endsWith(CFG_SUFFIX)) return undefined;
  const name = file.slice(BACKUP_PREFIX.length, -CFG_SUFFIX.length);
  return isValidName(name) ? name : undefined;
}

/** The checksum in a block key `.../<c>.blk`, or undefined for anything else. */
export function blockChecksumOf(key: string): string | undefined {
  const file = key.slice(key.lastIndexOf('/') + 1);
  if (!file.endsWith(BLOCK_SUFFIX)) return undefined;
  const c = file.slice(0, -BLOCK_SUFFIX.length);
  return /^[0-9a-f]{64}$/.test(c) ? c : undefined;
}
