/**
 * Which crypto Secret holds an encrypted volume's key-encryption key (README "Encryption").
 *
 * A volume made through CSI: the external-provisioner resolves the StorageClass's
 * `csi.storage.k8s.io/node-stage-secret-name/namespace` (templates such as `${pvc.name}`
 * included) and records the result on the PersistentVolume as spec.csi.nodeStageSecretRef;
 * the operator reads it there (then nodePublishSecretRef, then controllerPublishSecretRef).
 * A Volume made without CSI names its Secret in the annotation `longhorn-ts.io/crypto-secret:
 * NAMESPACE/NAME` (the annotation wins over the PV). Only a reference is ever read from a
 * resource; the key material stays in the Secret.
 */

export const CRYPTO_SECRET_ANNOTATION = 'longhorn-ts.io/crypto-secret';

export interface SecretRef {
  namespace: string;
  name: string;
  /** Where the reference came from, for messages ("PV pvc-1's nodeStageSecretRef"). */
  from: string;
}

/** The parts of a PersistentVolume this reads. */
export interface PvSecretRefs {
  name: string;
  driver?: string;
  volumeHandle?: string;
  nodeStageSecretRef?: { name?: string; namespace?: string };
  nodePublishSecretRef?: { name?: string; namespace?: string };
  controllerPublishSecretRef?: { name?: string; namespace?: string };
}

const PV_REFS = ['nodeStageSecretRef', 'nodePublishSecretRef', 'controllerPublishSecretRef'] as const;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** The crypto Secret of `volume`, or why there is none (a message for the Volume's condition). */
export function cryptoSecretRef(
  volume: { name: string; annotations?: Readonly<Record<string, string>> },
  pv: PvSecretRefs | undefined,
): SecretRef | { problem: string } {
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

/** Longhorn-ts keeps each encrypted volume's key record (wrapped data key) in this Secret of its namespace. */
export function keyRecordSecretName(volume: string): string {
  return `longhorn-ts-keys-${volume}`;
}
