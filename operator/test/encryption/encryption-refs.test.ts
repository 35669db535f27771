import { describe, expect, it } from 'vitest';
import { keyRecordSecretName } from '../../src/encryption/crypto-secret-ref.js';
import { encryptionKeyCondition } from '../../src/encryption/encryption-condition.js';

// Which Secret (cryptoSecretRef, re-exported from the api package) is tested in
// api/test/volume-encryption.test.ts.
describe('the key record Secret', () => {
  it('names the key record Secret after the volume', () => {
    expect(keyRecordSecretName('pvc-1')).toBe('longhorn-ts-keys-pvc-1');
  });
});

describe('the EncryptionKey condition', () => {
  const now = '2026-01-01T00:00:00Z';
  const later = '2026-01-01T00:01:00Z';
  const failed = {
    currentState: 'error',
    conditions: [
      {
        type: 'InstanceCreation',
        status: 'False',
        reason: 'EncryptionKeyUnavailable',
        message: 'volume v cannot attach: crypto Secret a/b (named by x) not found',
      },
    ],
  };

  it('is False with the message while the key is missing, True once the engine runs', () => {
    const c1 = encryptionKeyCondition([], failed, now);
    expect(c1).toEqual([
      {
        type: 'EncryptionKey',
        status: 'False',
        reason: 'EncryptionKeyUnavailable',
        message: 'volume v cannot attach: crypto Secret a/b (named by x) not found',
        lastTransitionTime: now,
      },
    ]);
    expect(encryptionKeyCondition(c1, { currentState: 'stopped' }, later)).toEqual(c1);
    expect(encryptionKeyCondition(c1, undefined, later)).toEqual(c1);
    expect(encryptionKeyCondition(c1, { currentState: 'running' }, later)).toEqual([
      { type: 'EncryptionKey', status: 'True', reason: '', message: '', lastTransitionTime: later },
    ]);
  });

  it('ignores other engine failures', () => {
    const other = {
      currentState: 'error',
      conditions: [{ type: 'InstanceCreation', status: 'False', reason: 'EngineStartFailed', message: 'm' }],
    };
    expect(encryptionKeyCondition([], other, now)).toEqual([]);
  });
});
