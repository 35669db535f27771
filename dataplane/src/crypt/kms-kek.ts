/**
 * Key-encryption keys from an AWS KMS (the AWS KMS API; tested against local-kms): a volume's
 * KEK is a KMS data key (GenerateDataKey, AES_256) kept only as KMS's ciphertext blob, turned
 * back into the KEK by Decrypt at every engine start, and re-wrapped under another KMS key by
 * ReEncrypt (the KEK itself never leaves KMS for a rotation). The volume's name is the
 * encryption context, so one volume's blob cannot open another volume.
 */
import {
  DecryptCommand,
  GenerateDataKeyCommand,
  KMSClient,
  type KMSClientConfig,
  ReEncryptCommand,
} from '@aws-sdk/client-kms';
import { CryptError } from './crypt-error.js';
import type { KmsKekSource } from './crypto-secret.js';
import { KEK_BYTES } from './kek-material.js';

// Node 20 on purpose (see local-backup.ts): the SDK's notice about it is noise on stderr.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** A KMS-wrapped KEK: the key that wrapped it (as KMS answers it, an ARN) and the blob. */
export interface KmsWrappedKek {
  kmsKeyId: string;
  blob: string;
}

export function kmsClient(source: KmsKekSource): KMSClient {
  const config: KMSClientConfig = {
    region: source.region,
    maxAttempts: 3,
    ...(source.endpoint ? { endpoint: source.endpoint } : {}),
    ...(source.credentials ? { credentials: source.credentials } : {}),
  };
  return new KMSClient(config);
}

/** A new KEK for `volume` from the KMS key `kmsKeyId`: the plaintext (to wrap with) and the blob (to keep). */
export async function generateKmsKek(
  client: KMSClient,
  kmsKeyId: string,
  volume: string,
): Promise<{ kek: Buffer; wrapped: KmsWrappedKek }> {
  const out = await call(`KMS key ${kmsKeyId}: GenerateDataKey`, () =>
    client.send(
      new GenerateDataKeyCommand({ KeyId: kmsKeyId, KeySpec: 'AES_256', EncryptionContext: context(volume) }),
    ),
  );
  if (!out.Plaintext || out.Plaintext.length !== KEK_BYTES || !out.CiphertextBlob)
    throw new CryptError('EPERM', `KMS key ${kmsKeyId}: GenerateDataKey answered no 32-byte data key`);
  return {
    kek: Buffer.from(out.Plaintext),
    wrapped: { kmsKeyId: out.KeyId ?? kmsKeyId, blob: Buffer.from(out.CiphertextBlob).toString('base64') },
  };
}

/**
 * The KEK in `wrapped`, decrypted by the KMS key `kmsKeyId` (the one the Secret names): another
 * key than the one that wrapped it is refused by KMS, and the refusal names both.
 */
export async function decryptKmsKek(
  client: KMSClient,
  kmsKeyId: string,
  wrapped: KmsWrappedKek,
  volume: string,
): Promise<Buffer> {
  const out = await call(
    `KMS key ${kmsKeyId} (volume ${volume}'s key-encryption key was wrapped by ${wrapped.kmsKeyId})`,
    () =>
      client.send(
        new DecryptCommand({
          KeyId: kmsKeyId,
          CiphertextBlob: Buffer.from(wrapped.blob, 'base64'),
          EncryptionContext: context(volume),
        }),
      ),
  );
  if (!out.Plaintext || out.Plaintext.length !== KEK_BYTES)
    throw new CryptError('EPERM', `KMS key ${kmsKeyId}: Decrypt answered no 32-byte key`);
  return Buffer.from(out.Plaintext);
}

/** The same KEK wrapped by `toKeyId` instead (KMS ReEncrypt: the KEK stays inside KMS). */
export async function reencryptKmsKek(
  client: KMSClient,
  fromKeyId: string,
  toKeyId: string,
  wrapped: KmsWrappedKek,
  volume: string,
): Promise<KmsWrappedKek> {
  const out = await call(`KMS ReEncrypt from key ${fromKeyId} to key ${toKeyId}`, () =>
    client.send(
      new ReEncryptCommand({
        CiphertextBlob: Buffer.from(wrapped.blob, 'base64'),
        SourceKeyId: fromKeyId,
        DestinationKeyId: toKeyId,
        SourceEncryptionContext: context(volume),
        DestinationEncryptionContext: context(volume),
      }),
    ),
  );
  if (!out.CiphertextBlob) throw new CryptError('EPERM', `KMS ReEncrypt to key ${toKeyId} answered no blob`);
  return { kmsKeyId: out.KeyId ?? toKeyId, blob: Buffer.from(out.CiphertextBlob).toString('base64') };
}

function context(volume: string): Record<string, string> {
  return { 'longhorn-ts-volume': volume };
}

/** One KMS call; its failure becomes a CryptError saying what was asked and what KMS answered. */
async function call<T>(what: string, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (err) {
    const e = err as { name?: string; message?: string; code?: string };
    const name = e.name && e.name !== 'Error' ? e.name : (e.code ?? 'error');
    throw new CryptError('EPERM', `${what}: refused by KMS (${name}: ${e.message ?? ''})`);
  }
}
