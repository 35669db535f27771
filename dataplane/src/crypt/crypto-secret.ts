/**
 * Where a volume's key-encryption key (KEK) comes from, read from a crypto Secret's fields.
 *
 * Longhorn's fields (its volume-encryption examples): CRYPTO_KEY_VALUE (a passphrase),
 * CRYPTO_KEY_PROVIDER=secret, CRYPTO_KEY_CIPHER (aes-xts-plain64), CRYPTO_KEY_HASH (sha256),
 * CRYPTO_KEY_SIZE (256), CRYPTO_PBKDF (argon2i). Longhorn hands them to cryptsetup; here the
 * passphrase is stretched into the KEK (passphrase-kek.ts) and the engine encrypts with
 * AES-256-XTS whatever CRYPTO_KEY_SIZE says (a 512-bit XTS key, the stronger of the two sizes).
 *
 * Our extension, CRYPTO_KEY_PROVIDER=kms: the KEK is a data key of an AWS KMS key
 * (GenerateDataKey), stored only wrapped by KMS. KMS_KEY_ID (key id, ARN or alias), KMS_REGION
 * (default us-east-1), KMS_ENDPOINT (an http(s) URL, e.g. a local-kms), AWS_ACCESS_KEY_ID with
 * AWS_SECRET_ACCESS_KEY (else the SDK's default credential chain).
 *
 * Rotation (also ours): CRYPTO_PREVIOUS_KEY_VALUE / KMS_PREVIOUS_KEY_ID name the key the volume
 * was wrapped with before the Secret was changed; a rotation opens with it and re-wraps with
 * the current one. Other fields of the Secret are ignored. Values never appear in messages.
 */
import { CryptError } from './crypt-error.js';

export const PASSPHRASE_KDFS = ['argon2i', 'argon2id', 'pbkdf2'] as const;
export type PassphraseKdfName = (typeof PASSPHRASE_KDFS)[number];
export const PASSPHRASE_HASHES = ['sha256', 'sha512'] as const;
export type PassphraseHash = (typeof PASSPHRASE_HASHES)[number];

export interface SecretKekSource {
  provider: 'secret';
  passphrase: string;
  pbkdf: PassphraseKdfName;
  hash: PassphraseHash;
  /** CRYPTO_PREVIOUS_KEY_VALUE: the passphrase before a change, for a rotation. */
  previousPassphrase?: string;
}

export interface KmsKekSource {
  provider: 'kms';
  kmsKeyId: string;
  region: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** KMS_PREVIOUS_KEY_ID: the KMS key before a change, for a rotation. */
  previousKmsKeyId?: string;
}

export type KekSource = SecretKekSource | KmsKekSource;

const CIPHERS = ['aes-xts-plain64'];
const KEY_SIZES = ['256', '512'];

/**
 * The KEK source a crypto Secret describes. `data`: the Secret's fields as strings (decoded);
 * `source`: how to name the Secret in a refusal ("crypto Secret longhorn-system/longhorn-crypto").
 */
export function parseCryptoSecret(data: Readonly<Record<string, string>>, source: string): KekSource {
  const field = (name: string): string | undefined => {
    const v = data[name];
    return v === undefined ? undefined : v.trim();
  };
  const refuse = (message: string): never => {
    throw new CryptError('INVALID_ARGUMENT', `${source}: ${message}`);
  };
  const provider = field('CRYPTO_KEY_PROVIDER') || 'secret';
  const cipher = field('CRYPTO_KEY_CIPHER') || 'aes-xts-plain64';
  if (!CIPHERS.includes(cipher))
    refuse(`CRYPTO_KEY_CIPHER "${cipher}" is not supported (longhorn-ts encrypts with aes-xts-plain64)`);
  const size = field('CRYPTO_KEY_SIZE') || '256';
  if (!KEY_SIZES.includes(size)) refuse(`CRYPTO_KEY_SIZE "${size}" is not one of ${KEY_SIZES.join(', ')}`);

  if (provider === 'secret') {
    for (const f of ['KMS_KEY_ID', 'KMS_PREVIOUS_KEY_ID'])
      if (field(f)) refuse(`${f} is for CRYPTO_KEY_PROVIDER=kms, this Secret's provider is secret`);
    const passphrase = data.CRYPTO_KEY_VALUE ?? '';
    if (passphrase === '') refuse('CRYPTO_KEY_VALUE (the passphrase) is missing or empty');
    const pbkdf = field('CRYPTO_PBKDF') || 'argon2i';
    if (!(PASSPHRASE_KDFS as readonly string[]).includes(pbkdf))
      refuse(`CRYPTO_PBKDF "${pbkdf}" is not one of ${PASSPHRASE_KDFS.join(', ')}`);
    const hash = field('CRYPTO_KEY_HASH') || 'sha256';
    if (!(PASSPHRASE_HASHES as readonly string[]).includes(hash))
      refuse(`CRYPTO_KEY_HASH "${hash}" is not one of ${PASSPHRASE_HASHES.join(', ')}`);
    const previous = data.CRYPTO_PREVIOUS_KEY_VALUE;
    return {
      provider: 'secret',
      passphrase,
      pbkdf: pbkdf as PassphraseKdfName,
      hash: hash as PassphraseHash,
      ...(previous ? { previousPassphrase: previous } : {}),
    };
  }

  if (provider === 'kms') {
    for (const f of ['CRYPTO_KEY_VALUE', 'CRYPTO_PREVIOUS_KEY_VALUE'])
      if (data[f]) refuse(`${f} is for CRYPTO_KEY_PROVIDER=secret; with kms the KMS key is the key`);
    const kmsKeyId = field('KMS_KEY_ID') ?? '';
    if (kmsKeyId === '') refuse('KMS_KEY_ID (the KMS key id, ARN or alias) is missing or empty');
    const endpoint = field('KMS_ENDPOINT');
    if (endpoint) {
      let url: URL | null = null;
      try {
        url = new URL(endpoint);
      } catch {
        url = null;
      }
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:'))
        refuse(`KMS_ENDPOINT "${endpoint}" is not an http(s) URL`);
    }
    const accessKeyId = field('AWS_ACCESS_KEY_ID');
    const secretAccessKey = field('AWS_SECRET_ACCESS_KEY');
    if (!accessKeyId !== !secretAccessKey) refuse('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together');
    const previous = field('KMS_PREVIOUS_KEY_ID');
    return {
      provider: 'kms',
      kmsKeyId,
      region: field('KMS_REGION') || 'us-east-1',
      ...(endpoint ? { endpoint } : {}),
      ...(accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey } } : {}),
      ...(previous ? { previousKmsKeyId: previous } : {}),
    };
  }
  return refuse(`CRYPTO_KEY_PROVIDER "${provider}" is not one of secret, kms`);
}

/** Decodes a Kubernetes Secret's `data` (base64 values) into the strings parseCryptoSecret takes. */
export function decodeSecretData(data: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
  return out;
}
