/**
 * What an encrypted Volume (spec.encrypted) shows about its keys, for every reader (the operator,
 * the kubectl plugin): which crypto Secret holds its key-encryption key, and the condition that
 * says whether its engine could get the key. Rotations are in kek-rotation.ts and
 * data-key-rotation.ts.
 *
 * Which Secret: a volume made through CSI has it recorded by the external-provisioner on its
 * PersistentVolume (spec.csi.nodeStageSecretRef, then nodePublishSecretRef, then
 * controllerPublishSecretRef); a Volume made without CSI names it in the annotation
 * `longhorn-ts.io/crypto-secret: NAMESPACE/NAME`, which wins over the PV. Only a reference is read
 * from a resource; the key material stays in the Secret.
 *
 * The operator reads it through operator/src/encryption/crypto-secret-ref.ts, which re-exports it.
 */

export const CRYPTO_SECRET_ANNOTATION = 'longhorn-ts.io/crypto-secret';

/** Volume condition: False (reason EncryptionKeyUnavailable) while its engine cannot get its key. */
export const ENCRYPTION_KEY_CONDITION = 'EncryptionKey';

export interface CryptoSecretRef {
  namespace: string;
  name: string;
  /** Where the reference came from, for messages ("PersistentVolume pvc-1's nodeStageSecretRef"). */
  from: string;
}

/** The parts of a PersistentVolume the reference is read from. */
export interface PvSecretRefs {
  name: string;
  nodeStageSecretRef?: { name?: string; namespace?: string } | undefined;
  nodePublishSecretRef?: { name?: string; namespace?: string } | undefined;
  controllerPublishSecretRef?: { name?: string; namespace?: string } | undefined;
}

const PV_REFS = ['nodeStageSecretRef', 'nodePublishSecretRef', 'controllerPublishSecretRef'] as const;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** The crypto Secret of `volume`, or why there is none (the sentence the operator reports). */
export function cryptoSecretRef(
  volume: { name: string; annotations?: Readonly<Record<string, string>> | undefined },
  pv: PvSecretRefs | undefined,
): CryptoSecretRef | { problem: string } {
  const annotated = volume.annotations?.[CRYPTO_SECRET_ANNOTATION];
  if (annotated !== undefined) {
    const [namespace, name, ...rest] = annotated.split('/');
    if (
      rest.length > 0 ||
      !namespace ||
      !name ||
      !DNS_LABEL.test(namespace) ||
      !DNS_SUBDOMAIN.test(name) ||
      name.length > 253
    ) {
      return {
        problem: `annotation ${CRYPTO_SECRET_ANNOTATION} "${annotated}" is not NAMESPACE/NAME of a Secret`,
      };
    }
    return { namespace, name, from: `annotation ${CRYPTO_SECRET_ANNOTATION}` };
  }
  if (pv === undefined) {
    return {
      problem: `encrypted volume ${volume.name} has no crypto Secret: no PersistentVolume names one and the Volume has no ${CRYPTO_SECRET_ANNOTATION} annotation`,
    };
  }
  for (const field of PV_REFS) {
    const ref = pv[field];
    if (ref?.name) {
      return {
        namespace: ref.namespace || 'default',
        name: ref.name,
        from: `PersistentVolume ${pv.name}'s ${field}`,
      };
    }
  }
  return {
    problem: `encrypted volume ${volume.name} has no crypto Secret: its PersistentVolume ${pv.name} has no nodeStageSecretRef (set csi.storage.k8s.io/node-stage-secret-name and -namespace in the StorageClass)`,
  };
}
