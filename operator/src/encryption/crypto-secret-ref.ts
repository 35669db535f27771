/**
 * Which crypto Secret holds an encrypted volume's key-encryption key (README "Encryption"): the
 * rule is in the api package (api/src/volume-encryption.ts), shared with the kubectl plugin, so
 * both read the same Secret. A volume made through CSI has it on its PersistentVolume (the
 * external-provisioner resolves the StorageClass's `csi.storage.k8s.io/node-stage-secret-*`);
 * one made without CSI names it in the annotation `longhorn-ts.io/crypto-secret:
 * NAMESPACE/NAME`, which wins.
 */
export {
  CRYPTO_SECRET_ANNOTATION,
  type CryptoSecretRef as SecretRef,
  cryptoSecretRef,
  type PvSecretRefs,
} from '@longhorn-ts/api';

/** Longhorn-ts keeps each encrypted volume's key record (wrapped data key) in this Secret of its namespace. */
export function keyRecordSecretName(volume: string): string {
  return `longhorn-ts-keys-${volume}`;
}
