/**
 * Key operations on a local volume: rotating its key-encryption key (the data key re-wrapped,
 * no data touched) and restarting its engine (with a key file, for an encrypted volume).
 */
import { resolve } from 'node:path';
import { InstanceManagerClient } from '../instance-manager/client.js';
import { rotatedCryptoSecretEncryption } from './crypto-secret-file.js';
import { ENGINE_PROCESS, loadState, saveState, startEngine } from './local-volume.js';
import { rotatedEncryption, type VolumeEncryption } from './volume-encryption.js';

/**
 * Re-wraps the volume's data key with the KEK in `newKeyFile`; the KEK in `oldKeyFile` must be
 * the current one. The running engine keeps its (unchanged) data key; the next engine start
 * reads `newKeyFile`.
 */
export async function rotateVolumeKey(
  dir: string,
  oldKeyFile: string,
  newKeyFile: string,
): Promise<VolumeEncryption> {
  const state = await loadState(dir);
  if (!state.encryption)
    throw new Error(`volume ${state.volume} is not encrypted; there is no key to rotate`);
  refuseWhilePreviousKept(state.volume, state.encryption);
  state.encryption = await rotatedEncryption(state.volume, state.encryption, oldKeyFile, newKeyFile);
  await saveState(dir, state);
  return state.encryption;
}

/** KEK rotation of a volume encrypted with a crypto secret file (its previous-key fields open the old wrap). */
export async function rotateVolumeKeyFromSecret(dir: string, file: string): Promise<VolumeEncryption> {
  const state = await loadState(dir);
  if (!state.encryption?.cryptoSecret)
    throw new Error(`volume ${state.volume} is not encrypted with a crypto secret file (--crypto-secret)`);
  refuseWhilePreviousKept(state.volume, state.encryption);
  state.encryption = await rotatedCryptoSecretEncryption(state.volume, state.encryption, file);
  await saveState(dir, state);
  return state.encryption;
}

/**
 * A KEK rotation re-wraps one data key; while a data-key rotation keeps a previous one (it runs,
 * or snapshots still hold blocks under it) it is refused rather than leave that key behind.
 */
function refuseWhilePreviousKept(volume: string, enc: VolumeEncryption): void {
  if (enc.previous)
    throw new Error(
      `volume ${volume}: a data-key rotation keeps the previous data key ${enc.previous.dataKeyId} (re-encryption runs, or snapshots still use it; see "volume info"); rotate the key-encryption key after`,
    );
}

/**
 * Stops the volume's engine (clean flush) and starts it again; an encrypted volume's engine
 * unwraps its data key with the KEK in `keyFile` (default: the one that last worked) and is
 * refused, staying down, when that is not the volume's key. Returns the new NBD URI.
 */
export async function restartEngine(dir: string, keyFile?: string): Promise<string> {
  const state = await loadState(dir);
  const node = state.nodes.find((n) => n.name === state.engine.node) ?? state.nodes[0]!;
  const im = new InstanceManagerClient(node.imAddress);
  try {
    await im.delete(state.engine.process || ENGINE_PROCESS).catch(() => {});
  } finally {
    im.close();
  }
  state.engine = { ...state.engine, nbd: '', control: '' };
  await saveState(dir, state);
  await startEngine(dir, state, keyFile);
  if (keyFile && state.encryption?.cryptoSecret)
    state.encryption = {
      ...state.encryption,
      cryptoSecret: { ...state.encryption.cryptoSecret, file: resolve(keyFile) },
    };
  else if (keyFile && state.encryption) state.encryption = { ...state.encryption, keyFile: resolve(keyFile) };
  await saveState(dir, state);
  return state.engine.nbd;
}
