/**
 * A refusal of the encryption layer's keys: malformed key material or an unknown cipher
 * (INVALID_ARGUMENT), a key that is not the volume's or none at all (EPERM). Messages name the
 * key id, never key bytes.
 */
import type { ErrorCode } from '../block/error-codes.js';

export type CryptErrorCode = Extract<ErrorCode, 'INVALID_ARGUMENT' | 'EPERM'>;

export class CryptError extends Error {
  readonly code: CryptErrorCode;
  constructor(code: CryptErrorCode, message: string) {
    super(message);
    this.name = 'CryptError';
    this.code = code;
  }
}
