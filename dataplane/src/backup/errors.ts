/**
 * Every refusal of the backupstore is a `BackupError` with a stable code and the context it
 * happened in (target, volume, backup, block). The codes are the backupstore's own for now; the
 * control plane maps them when it reports them (BackupTarget condition, Backup CR state).
 * - INVALID_ARGUMENT: a bad URL, name, credentials file, compression method or option;
 * - NOT_FOUND: no such backup volume / backup / snapshot;
 * - BUSY: the volume's backupstore lock is held by an operation of the other type;
 * - ACCESS_DENIED: the target refused the credentials;
 * - UNREACHABLE: the target did not answer (connection refused, DNS, timeout);
 * - CORRUPT_BLOCK: a block whose content does not match its name (checksum) or does not decode;
 * - CORRUPT_CONFIG: a cfg file that does not parse or misses required fields;
 * - CANCELLED: the operation was cancelled (AbortSignal);
 * - EIO: any other failure of the target or of the replica read.
 */
export type BackupErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'BUSY'
  | 'ACCESS_DENIED'
  | 'UNREACHABLE'
  | 'CORRUPT_BLOCK'
  | 'CORRUPT_CONFIG'
  | 'CANCELLED'
  | 'EIO';

export interface BackupErrorContext {
  target?: string;
  volume?: string;
  backup?: string;
  block?: string;
  path?: string;
  offset?: number;
}

export class BackupError extends Error {
  constructor(
    readonly code: BackupErrorCode,
    message: string,
    readonly context: BackupErrorContext = {},
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'BackupError';
  }
}

export function isBackupError(err: unknown, code?: BackupErrorCode): err is BackupError {
  return err instanceof BackupError && (code === undefined || err.code === code);
}
