/**
 * Which keys an encrypted volume's engine runs with, noted on its Engine (an annotation) by
 * whoever hands the engine keys: the engine controller when it starts the engine, the data-key
 * rotation controller when the running engine takes a new data key and when that rotation is
 * done, the KEK rotation controller when the data key is re-wrapped. The Volume's EncryptionKey
 * condition names them from there, so the volume controller needs no Secret. Key ids and the
 * Secret's name only: never key material.
 */
import type { Engine } from '@longhorn-ts/api';
import type { Logger } from 'pino';
import { KINDS } from '../k8s/kinds.js';
import type { LonghornClient } from '../k8s/longhorn-client.js';

export const ENGINE_KEYS_ANNOTATION = 'longhorn-ts.io/encryption-keys';

export interface EngineKeyIds {
  /** The data key the engine writes with (dk-...). */
  dataKeyId: string;
  /** A data-key rotation in flight: the key the engine re-encrypts from (it holds both). */
  rotatingFrom?: string;
  /** The id of the key-encryption key the data key is wrapped with. */
  keyId: string;
  /** Where the key-encryption key comes from: `crypto Secret NS/NAME`. */
  secret: string;
}

/** The note, or undefined when there is none or it does not read as one. */
export function parseEngineKeys(
  annotations: Readonly<Record<string, string>> | undefined,
): EngineKeyIds | undefined {
  const text = annotations?.[ENGINE_KEYS_ANNOTATION];
  if (!text) return undefined;
  let v: Partial<Record<keyof EngineKeyIds, unknown>>;
  try {
    v = JSON.parse(text) as typeof v;
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const { dataKeyId, rotatingFrom, keyId, secret } = v;
  if (typeof dataKeyId !== 'string' || typeof keyId !== 'string' || typeof secret !== 'string')
    return undefined;
  return {
    dataKeyId,
    ...(typeof rotatingFrom === 'string' && rotatingFrom ? { rotatingFrom } : {}),
    keyId,
    secret,
  };
}

/** The EncryptionKey condition's message while the engine runs. */
export function engineKeysMessage(k: EngineKeyIds): string {
  const kek = `key-encryption key ${k.keyId} from ${k.secret}`;
  return k.rotatingFrom
    ? `engine runs with data key ${k.dataKeyId} (re-encrypting from ${k.rotatingFrom}; ${kek})`
    : `engine runs with data key ${k.dataKeyId} (${kek})`;
}

/**
 * Writes `change(current note)` on the Engine; nothing when there is no Engine or the change
 * gives undefined. A merge patch without resourceVersion: only the key handlers write the note.
 * A failed write is logged, not thrown: only the condition's message waits for it.
 */
export async function noteEngineKeys(
  client: Pick<LonghornClient, 'patch'>,
  engine: Engine | undefined,
  change: (current: EngineKeyIds | undefined) => EngineKeyIds | undefined,
  log: Logger,
): Promise<void> {
  if (engine === undefined) return;
  const next = change(parseEngineKeys(engine.metadata.annotations));
  if (next === undefined) return;
  const text = JSON.stringify(next);
  if (engine.metadata.annotations?.[ENGINE_KEYS_ANNOTATION] === text) return;
  try {
    await client.patch(KINDS.engine, engine.metadata.name, {
      metadata: { annotations: { [ENGINE_KEYS_ANNOTATION]: text } },
    });
  } catch (err) {
    log.warn({ engine: engine.metadata.name, err: (err as Error).message }, 'engine key ids not noted');
  }
}
