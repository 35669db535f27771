import { describe, expect, it } from 'vitest';
import { checkProvisionerSecrets } from '../src/controller/crypto-secrets.js';
import { CsiError } from '../src/errors.js';

describe('CreateVolume of an encrypted volume checks the provisioner secret', () => {
  it('accepts Longhorn crypto Secret fields, and no secret at all (the PV names it later)', () => {
    expect(() =>
      checkProvisionerSecrets(true, {
        CRYPTO_KEY_VALUE: 'passphrase',
        CRYPTO_KEY_PROVIDER: 'secret',
        CRYPTO_KEY_CIPHER: 'aes-xts-plain64',
        CRYPTO_KEY_HASH: 'sha256',
        CRYPTO_KEY_SIZE: '256',
        CRYPTO_PBKDF: 'argon2i',
      }),
    ).not.toThrow();
    expect(() => checkProvisionerSecrets(true, undefined)).not.toThrow();
    expect(() => checkProvisionerSecrets(true, {})).not.toThrow();
    expect(() => checkProvisionerSecrets(false, { CRYPTO_KEY_CIPHER: 'x' })).not.toThrow();
  });

  it('refuses a bad one with INVALID_ARGUMENT naming the field, not the value', () => {
    let err: unknown;
    try {
      checkProvisionerSecrets(true, { CRYPTO_KEY_VALUE: 'hunter2', CRYPTO_KEY_CIPHER: 'twofish' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CsiError);
    expect((err as CsiError).code).toBe('INVALID_ARGUMENT');
    expect((err as Error).message).toBe(
      'encrypted volume: the provisioner secret (csi.storage.k8s.io/provisioner-secret-name): CRYPTO_KEY_CIPHER "twofish" is not supported (longhorn-ts encrypts with aes-xts-plain64)',
    );
    expect((err as Error).message).not.toContain('hunter2');
  });
});
