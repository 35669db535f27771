import { describe, expect, it } from 'vitest';
import { CRYPTO_SECRET_ANNOTATION, cryptoSecretRef, type PvSecretRefs } from '../src/volume-encryption.js';

// The operator and the kubectl plugin both use this rule (the operator through a re-export).
const pv = (refs: Partial<PvSecretRefs>): PvSecretRefs => ({ name: 'pvc-1', ...refs });

describe('which crypto Secret an encrypted volume uses', () => {
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
      'the controller-publish secret last, in namespace default when it names none',
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
    ...['just-a-name', 'a/b/c', 'Upper/b', '/b', 'a/'].map((text) => [
      { [CRYPTO_SECRET_ANNOTATION]: text },
      undefined,
      `annotation ${CRYPTO_SECRET_ANNOTATION} "${text}" is not NAMESPACE/NAME of a Secret`,
    ]),
  ] as [Record<string, string>, PvSecretRefs | undefined, string][])(
    'refuses %j with PV %j',
    (annotations, p, problem) => {
      expect(cryptoSecretRef({ name: 'v', annotations }, p)).toEqual({ problem });
    },
  );
});
