import { describe, expect, it } from 'vitest';
import { keyRecordSecretName } from '../../src/encryption/crypto-secret-ref.js';
import { encryptionKeyCondition } from '../../src/encryption/encryption-condition.js';
import { ENGINE_KEYS_ANNOTATION, parseEngineKeys } from '../../src/encryption/engine-keys-note.js';

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

  it('names the keys the Engine notes it runs with, both data keys mid-rotation', () => {
    const keys = { dataKeyId: 'dk-0123456789abcdef', keyId: 'kek-1', secret: 'crypto Secret ns/s' };
    const c1 = encryptionKeyCondition([], { currentState: 'running' }, now, keys);
    expect(c1).toEqual([
      {
        type: 'EncryptionKey',
        status: 'True',
        reason: '',
        message:
          'engine runs with data key dk-0123456789abcdef (key-encryption key kek-1 from crypto Secret ns/s)',
        lastTransitionTime: now,
      },
    ]);
    const rotating = { ...keys, dataKeyId: 'dk-new', rotatingFrom: 'dk-old' };
    expect(encryptionKeyCondition(c1, { currentState: 'running' }, later, rotating)).toEqual([
      {
        ...c1[0],
        message:
          'engine runs with data key dk-new (re-encrypting from dk-old; key-encryption key kek-1 from crypto Secret ns/s)',
      },
    ]);
    // Stopped, the last verdict stays, message and all.
    expect(encryptionKeyCondition(c1, { currentState: 'stopped' }, later, rotating)).toEqual(c1);
  });

  it('reads the note from the Engine annotation; a broken one is no note', () => {
    const note = { dataKeyId: 'dk-1', rotatingFrom: 'dk-0', keyId: 'k', secret: 'crypto Secret a/b' };
    expect(parseEngineKeys({ [ENGINE_KEYS_ANNOTATION]: JSON.stringify(note) })).toEqual(note);
    expect(
      parseEngineKeys({ [ENGINE_KEYS_ANNOTATION]: JSON.stringify({ ...note, rotatingFrom: '' }) }),
    ).toEqual({ dataKeyId: 'dk-1', keyId: 'k', secret: 'crypto Secret a/b' });
    for (const text of ['', '{', 'null', '[]', '"x"', JSON.stringify({ dataKeyId: 'dk-1', keyId: 'k' })])
      expect(parseEngineKeys({ [ENGINE_KEYS_ANNOTATION]: text })).toBeUndefined();
    expect(parseEngineKeys(undefined)).toBeUndefined();
  });

  it('ignores other engine failures', () => {
    const other = {
      currentState: 'error',
      conditions: [{ type: 'InstanceCreation', status: 'False', reason: 'EngineStartFailed', message: 'm' }],
    };
    expect(encryptionKeyCondition([], other, now)).toEqual([]);
  });
});
