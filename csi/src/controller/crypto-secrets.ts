/**
 * CreateVolume of an encrypted volume: when the StorageClass names a provisioner secret
 * (Longhorn's examples name the crypto Secret there, so that a volume whose Secret is missing
 * fails early), its fields are checked now (unknown cipher, empty passphrase, bad KMS fields),
 * and a bad one refuses the volume with INVALID_ARGUMENT naming the field, never a value. The key
 * itself is not kept here: the operator reads the crypto Secret the PV names at every attach.
 */
import { parseCryptoSecret } from '@longhorn-ts/dataplane/crypt/crypto-secret';
import { invalid } from '../errors.js';

export function checkProvisionerSecrets(
  encrypted: boolean | undefined,
  secrets: Readonly<Record<string, string>> | undefined,
): void {
  if (encrypted !== true || secrets === undefined || Object.keys(secrets).length === 0) return;
  try {
    parseCryptoSecret(secrets, 'the provisioner secret (csi.storage.k8s.io/provisioner-secret-name)');
  } catch (err) {
    throw invalid(`encrypted volume: ${(err as Error).message}`);
  }
}
