import { describe, expect, it } from 'vitest';
import {
  CRYPTO_SECRET_ANNOTATION,
  cryptoSecretRef,
  keyRecordSecretName,
  type PvSecretRefs,
} from '../../src/encryption/crypto-secret-ref.js';
import { encryptionKeyCondition } from '../../src/encryption/encryption-condition.js';

const pv = (refs: Partial<PvSecretRefs>): PvSecretRefs => ({
  name: 'pvc-1',
  driver: 'driver.longhorn.io',
  volumeHandle: 'pvc-1',
  ...refs,
});

describe('which crypto Secret a volume uses', () => {
  it.each([
    [
      'the PV node-stage secret (Longhorn global StorageClass)',
      {},
      pv({
        nodeStageSecretRef: { name: 'longhorn-crypto', namespace: 'longhorn-system' },
        nodePublishSecretRef: { name: 'other', namespace: 'x' },
      }),
      {
        namespace: 'longhorn-system',
        name: 'longhorn-crypto',
        from: "PersistentVolume pvc-1's nodeStageSecretRef",
      },
    ],
    [
      'the node-publish secret when there is no node-stage one',
      {},
      pv({ nodePublishSecretRef: { name: 'data-pvc', namespace: 'apps' } }),
      { namespace: 'apps', name: 'data-pvc', from: "PersistentVolume pvc-1's nodePublishSecretRef" },
    ],
    [
      'the controller-publish secret last',
      {},
      pv({ controllerPublishSecretRef: { name: 'c' } }),
      { namespace: 'default', name: 'c', from: "PersistentVolume pvc-1's controllerPublishSecretRef" },
    ],
    [
      'the annotation over the PV',
      { [CRYPTO_SECRET_ANNOTATION]: 'ns-1/my.secret' },
      pv({ nodeStageSecretRef: { name: 'longhorn-crypto', namespace: 'longhorn-system' } }),
      { namespace: 'ns-1', name: 'my.secret', from: `annotation ${CRYPTO_SECRET_ANNOTATION}` },
    ],
    [
      'the annotation without a PV',
      { [CRYPTO_SECRET_ANNOTATION]: 'longhorn-system/k' },
      undefined,
      { namespace: 'longhorn-system', name: 'k', from: `annotation ${CRYPTO_SECRET_ANNOTATION}` },
    ],
  ])('%s', (_, annotations, p, want) => {
    expect(cryptoSecretRef({ name: 'pvc-1', annotations }, p)).toEqual(want);
  });

  it.each([
    [
      {},
      undefined,
      `encrypted volume v has no crypto Secret: no PersistentVolume names one and the Volume has no ${CRYPTO_SECRET_ANNOTATION} annotation`,
    ],
    [
      {},
      pv({}),
      'encrypted volume v has no crypto Secret: its PersistentVolume pvc-1 has no nodeStageSecretRef (set csi.storage.k8s.io/node-stage-secret-name and -namespace in the StorageClass)',
    ],
    [
      { [CRYPTO_SECRET_ANNOTATION]: 'just-a-name' },
      undefined,
      `annotation ${CRYPTO_SECRET_ANNOTATION} "just-a-name" is not NAMESPACE/NAME of a Secret`,
    ],
    [
      { [CRYPTO_SECRET_ANNOTATION]: 'a/b/c' },
      undefined,
      `annotation ${CRYPTO_SECRET_ANNOTATION} "a/b/c" is not NAMESPACE/NAME of a Secret`,
    ],
    [
      { [CRYPTO_SECRET_ANNOTATION]: 'Upper/b' },
      undefined,
      `annotation ${CRYPTO_SECRET_ANNOTATION} "Upper/b" is not NAMESPACE/NAME of a Secret`,
    ],
  ])('refuses %j with PV %j', (annotations, p, problem) => {
    expect(cryptoSecretRef({ name: 'v', annotations }, p)).toEqual({ problem });
  });

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
