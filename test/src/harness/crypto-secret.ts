import { NAMESPACE } from '@longhorn-ts/api';

/**
 * A crypto Secret as Longhorn's documentation writes it (passphrase provider), in longhorn-system:
 * what an encrypted volume's StorageClass or `longhorn-ts.io/crypto-secret` annotation names.
 * `previous` is the passphrase a KEK rotation re-wraps from (CRYPTO_PREVIOUS_KEY_VALUE).
 */
export function cryptoSecretYaml(name: string, passphrase: string, previous?: string): string {
  return `apiVersion: v1
kind: Secret
metadata: {name: ${name}, namespace: ${NAMESPACE}}
stringData:
  CRYPTO_KEY_VALUE: "${passphrase}"
${previous ? `  CRYPTO_PREVIOUS_KEY_VALUE: "${previous}"\n` : ''}  CRYPTO_KEY_PROVIDER: secret
  CRYPTO_KEY_CIPHER: aes-xts-plain64
  CRYPTO_KEY_HASH: sha256
  CRYPTO_KEY_SIZE: "256"
  CRYPTO_PBKDF: argon2i
`;
}
