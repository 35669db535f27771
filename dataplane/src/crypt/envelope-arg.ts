/**
 * A key envelope on a command line (the engine's --encryption):
 * cipher=aes-256-xts,keyId=kek-0123456789abcdef,wrappedKey=BASE64. Only wrapped keys travel
 * this way; the KEK comes from a file (--kek-file).
 */
import { CryptError } from './crypt-error.js';
import { readKekFile } from './kek-material.js';
import { checkEnvelope, type KeyEnvelope, unwrapDataKey, type VolumeCipher } from './key-envelope.js';

export function formatEnvelopeArg(e: KeyEnvelope): string {
  return `cipher=${e.cipher},keyId=${e.keyId},wrappedKey=${e.wrappedKey}`;
}

export function parseEnvelopeArg(text: string): KeyEnvelope {
  const fields = new Map<string, string>();
  for (const part of text.split(',')) {
    const i = part.indexOf('=');
    if (i <= 0)
      throw new CryptError('INVALID_ARGUMENT', `--encryption: ${JSON.stringify(part)} is not key=value`);
    fields.set(part.slice(0, i), part.slice(i + 1));
  }
  for (const name of fields.keys()) {
    if (!['cipher', 'keyId', 'wrappedKey'].includes(name)) {
      throw new CryptError('INVALID_ARGUMENT', `--encryption: unknown field ${JSON.stringify(name)}`);
    }
  }
  const envelope: KeyEnvelope = {
    cipher: (fields.get('cipher') ?? '') as VolumeCipher,
    keyId: fields.get('keyId') ?? '',
    wrappedKey: fields.get('wrappedKey') ?? '',
  };
  checkEnvelope(envelope);
  return envelope;
}

/** The volume's data key for an engine start: the KEK from `kekFile` must be the envelope's. */
export async function loadDataKey(
  volume: string,
  envelope: KeyEnvelope,
  kekFile: string | undefined,
): Promise<Buffer> {
  let kek: Buffer | null = null;
  if (kekFile) {
    try {
      kek = await readKekFile(kekFile);
    } catch (err) {
      const e = err as CryptError;
      throw new CryptError(e.code, `volume ${volume} is encrypted with key ${envelope.keyId}; ${e.message}`);
    }
  }
  return unwrapDataKey(envelope, kek, `volume ${volume}`);
}
