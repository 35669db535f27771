import { BackupError } from './errors.js';

/**
 * volume.cfg and backup_<name>.cfg as Longhorn's backupstore writes them (Go encoding/json of
 * its Volume and Backup structs), field for field and in the same order, including Go's quirks:
 * int64 fields tagged `,string` are JSON strings ("Size":"1073741824"), and string fields tagged
 * `,string` are JSON-quoted twice ("CompressionMethod":"\"lz4\""). Decoding accepts both the
 * quirky and the plain form, and keeps fields it does not know so that a rewrite (volume.cfg is
 * updated after every backup) loses nothing a newer Longhorn added.
 */

export type CompressionMethod = 'lz4' | 'gzip' | 'none';
export const COMPRESSION_METHODS: readonly CompressionMethod[] = ['lz4', 'gzip', 'none'];
/** What Longhorn assumes when a cfg has no CompressionMethod (stores older than the field). */
export const LEGACY_COMPRESSION: CompressionMethod = 'gzip';
export const DEFAULT_BLOCK_SIZE = 2 * 1024 * 1024;
export const PARAM_BLOCK_SIZE = 'backup-block-size';
export const PARAM_MODE = 'backup-mode';
/**
 * Ours: the key record (its data key wrapped by the key-encryption key, and how to get that key
 * back; never a key in the clear) of the engine-encrypted volume the backup was taken of. Its
 * blocks are that volume's ciphertext, so a volume restored from it must take this record.
 */
export const PARAM_KEY_RECORD = 'longhorn-ts.io/volume-key-record';

export interface VolumeConfig {
  Name: string;
  Size: number;
  Labels: Record<string, string> | null;
  CreatedTime: string;
  LastBackupName: string;
  LastBackupAt: string;
  BlockCount: number;
  BackingImageName: string;
  BackingImageChecksum: string;
  CompressionMethod: CompressionMethod;
  StorageClassName: string;
  DataEngine: string;
  /** Ours (Longhorn has no backup encryption): 'aes-256-gcm' and the key's id, or empty. */
  EncryptionMethod?: string;
  EncryptionKeyId?: string;
  /** Fields of a newer Longhorn, kept as they were read. */
  extra?: Record<string, unknown>;
}

export interface BlockMapping {
  Offset: number;
  BlockChecksum: string;
}

export interface BackupConfig {
  Name: string;
  VolumeName: string;
  SnapshotName: string;
  SnapshotCreatedAt: string;
  /** Empty while the backup is in progress (Longhorn's marker). */
  CreatedTime: string;
  Size: number;
  Labels: Record<string, string> | null;
  Parameters: Record<string, string> | null;
  IsIncremental: boolean;
  CompressionMethod: CompressionMethod;
  NewlyUploadedDataSize: number;
  ReUploadedDataSize: number;
  /** Sorted by offset; blocks not listed are zeros. */
  Blocks: BlockMapping[];
  extra?: Record<string, unknown>;
}

const VOLUME_FIELDS = [
  'Name',
  'Size',
  'Labels',
  'CreatedTime',
  'LastBackupName',
  'LastBackupAt',
  'BlockCount',
  'BackingImageName',
  'BackingImageChecksum',
  'CompressionMethod',
  'StorageClassName',
  'DataEngine',
  'EncryptionMethod',
  'EncryptionKeyId',
] as const;

const BACKUP_FIELDS = [
  'Name',
  'VolumeName',
  'SnapshotName',
  'SnapshotCreatedAt',
  'CreatedTime',
  'Size',
  'Labels',
  'Parameters',
  'IsIncremental',
  'CompressionMethod',
  'NewlyUploadedDataSize',
  'ReUploadedDataSize',
  'ProcessingBlocks',
  'Blocks',
  'SingleFile',
] as const;

/** Go's `,string` on a string field: the value JSON-encoded, then encoded again. */
const quoted = (s: string): string => JSON.stringify(s);

function unquote(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') return String(v);
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) {
    try {
      const inner = JSON.parse(v) as unknown;
      if (typeof inner === 'string') return inner;
    } catch {
      // not a quoted string after all: keep it as it is
    }
  }
  return v;
}

function int(v: unknown, field: string, file: string): number {
  if (v === undefined || v === null || v === '') return 0;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new BackupError('CORRUPT_CONFIG', `${file}: ${field} ${JSON.stringify(v)} is not a size`, {
      path: file,
    });
  }
  return n;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function labels(v: unknown): Record<string, string> | null {
  if (v === null || v === undefined || typeof v !== 'object') return null;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) out[k] = String(val);
  return out;
}

export function compressionOf(v: string, file: string): CompressionMethod {
  if (v === '') return LEGACY_COMPRESSION;
  if ((COMPRESSION_METHODS as readonly string[]).includes(v)) return v as CompressionMethod;
  throw new BackupError('CORRUPT_CONFIG', `${file}: unknown compression method ${JSON.stringify(v)}`, {
    path: file,
  });
}

function parseObject(data: Buffer | string, file: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(data.toString());
  } catch (err) {
    throw new BackupError('CORRUPT_CONFIG', `${file} is not valid JSON: ${(err as Error).message}`, {
      path: file,
    });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new BackupError('CORRUPT_CONFIG', `${file} is not a JSON object`, { path: file });
  }
  return v as Record<string, unknown>;
}

function extraOf(
  raw: Record<string, unknown>,
  known: readonly string[],
): Record<string, unknown> | undefined {
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) if (!known.includes(k)) extra[k] = v;
  return Object.keys(extra).length ? extra : undefined;
}

export function decodeVolumeConfig(data: Buffer | string, file = 'volume.cfg'): VolumeConfig {
  const raw = parseObject(data, file);
  const name = str(raw.Name);
  if (!name) throw new BackupError('CORRUPT_CONFIG', `${file} has no Name`, { path: file });
  const extra = extraOf(raw, VOLUME_FIELDS);
  return {
    Name: name,
    Size: int(raw.Size, 'Size', file),
    Labels: labels(raw.Labels),
    CreatedTime: str(raw.CreatedTime),
    LastBackupName: str(raw.LastBackupName),
    LastBackupAt: str(raw.LastBackupAt),
    BlockCount: int(raw.BlockCount, 'BlockCount', file),
    BackingImageName: unquote(raw.BackingImageName),
    BackingImageChecksum: unquote(raw.BackingImageChecksum),
    CompressionMethod: compressionOf(unquote(raw.CompressionMethod), file),
    StorageClassName: unquote(raw.StorageClassName),
    DataEngine: unquote(raw.DataEngine) || 'v1',
    ...(str(raw.EncryptionKeyId)
      ? { EncryptionMethod: str(raw.EncryptionMethod), EncryptionKeyId: str(raw.EncryptionKeyId) }
      : {}),
    ...(extra ? { extra } : {}),
  };
}

export function encodeVolumeConfig(v: VolumeConfig): Buffer {
  const out: Record<string, unknown> = {
    Name: v.Name,
    Size: String(v.Size),
    Labels: v.Labels,
    CreatedTime: v.CreatedTime,
    LastBackupName: v.LastBackupName,
    LastBackupAt: v.LastBackupAt,
    BlockCount: String(v.BlockCount),
    BackingImageName: quoted(v.BackingImageName),
    BackingImageChecksum: quoted(v.BackingImageChecksum),
    CompressionMethod: quoted(v.CompressionMethod),
    StorageClassName: quoted(v.StorageClassName),
    DataEngine: quoted(v.DataEngine),
    ...(v.EncryptionKeyId
      ? { EncryptionMethod: v.EncryptionMethod, EncryptionKeyId: v.EncryptionKeyId }
      : {}),
    ...v.extra,
  };
  return Buffer.from(JSON.stringify(out));
}

export function decodeBackupConfig(data: Buffer | string, file = 'backup.cfg'): BackupConfig {
  const raw = parseObject(data, file);
  const name = str(raw.Name);
  if (!name) throw new BackupError('CORRUPT_CONFIG', `${file} has no Name`, { path: file });
  const blocks: BlockMapping[] = [];
  if (raw.Blocks !== undefined && raw.Blocks !== null) {
    if (!Array.isArray(raw.Blocks))
      throw new BackupError('CORRUPT_CONFIG', `${file}: Blocks is not a list`, { path: file });
    for (const b of raw.Blocks as unknown[]) {
      const m = b as { Offset?: unknown; BlockChecksum?: unknown };
      const offset = int(m?.Offset, 'Blocks[].Offset', file);
      const checksum = str(m?.BlockChecksum);
      if (!/^[0-9a-f]{64}$/.test(checksum)) {
        throw new BackupError(
          'CORRUPT_CONFIG',
          `${file}: block at offset ${offset} has checksum ${JSON.stringify(checksum)}`,
          { path: file, offset },
        );
      }
      blocks.push({ Offset: offset, BlockChecksum: checksum });
    }
  }
  const extra = extraOf(raw, BACKUP_FIELDS);
  return {
    Name: name,
    VolumeName: str(raw.VolumeName),
    SnapshotName: str(raw.SnapshotName),
    SnapshotCreatedAt: str(raw.SnapshotCreatedAt),
    CreatedTime: str(raw.CreatedTime),
    Size: int(raw.Size, 'Size', file),
    Labels: labels(raw.Labels),
    Parameters: labels(raw.Parameters),
    IsIncremental: raw.IsIncremental === true,
    CompressionMethod: compressionOf(str(raw.CompressionMethod), file),
    NewlyUploadedDataSize: int(raw.NewlyUploadedDataSize, 'NewlyUploadedDataSize', file),
    ReUploadedDataSize: int(raw.ReUploadedDataSize, 'ReUploadedDataSize', file),
    Blocks: blocks,
    ...(extra ? { extra } : {}),
  };
}

export function encodeBackupConfig(b: BackupConfig): Buffer {
  const out: Record<string, unknown> = {
    Name: b.Name,
    VolumeName: b.VolumeName,
    SnapshotName: b.SnapshotName,
    SnapshotCreatedAt: b.SnapshotCreatedAt,
    CreatedTime: b.CreatedTime,
    Size: String(b.Size),
    Labels: b.Labels,
    Parameters: b.Parameters,
    IsIncremental: b.IsIncremental,
    CompressionMethod: b.CompressionMethod,
    NewlyUploadedDataSize: String(b.NewlyUploadedDataSize),
    ReUploadedDataSize: String(b.ReUploadedDataSize),
    ProcessingBlocks: null,
  };
  // Go's omitempty: no Blocks key for an empty list.
  if (b.Blocks.length > 0)
    out.Blocks = b.Blocks.map((m) => ({ Offset: m.Offset, BlockChecksum: m.BlockChecksum }));
  out.SingleFile = { FilePath: '' };
  return Buffer.from(JSON.stringify({ ...out, ...b.extra }));
}

export function isInProgress(b: BackupConfig): boolean {
  return b.CreatedTime === '';
}

/** The backup's block size from its Parameters (a Kubernetes quantity; default 2 MiB). */
export function blockSizeOf(params: Record<string, string> | null): number {
  const v = params?.[PARAM_BLOCK_SIZE];
  if (!v) return DEFAULT_BLOCK_SIZE;
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(v.trim());
  const n = m ? Number(m[1]) * ({ Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 }[m[2] as 'Ki'] ?? 1) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 0)
    throw new BackupError('CORRUPT_CONFIG', `invalid ${PARAM_BLOCK_SIZE} ${JSON.stringify(v)}`);
  return n === 0 ? DEFAULT_BLOCK_SIZE : n;
}
