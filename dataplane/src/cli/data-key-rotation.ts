/**
 * `longhorn-local volume rotate-key --data-key`: re-encrypts a running encrypted volume to a new
 * data key, online, in its engine (crypt/rotation-job.ts). The key record in DIR/volume.json
 * keeps both wrapped data keys (current and previous) until the engine reports the rotation done
 * and no snapshot taken before the end remains; `volume info` shows the progress and drops the
 * previous key once nothing uses it.
 *
 * Order matters for a crash of this tool or the engine: the new envelope (with the previous one)
 * is saved first, then the engine is asked. An engine that never got the request is given both
 * keys at its next start and starts the re-encryption then; one that did has recorded it.
 */
import { join, resolve } from 'node:path';
import { dataKeyId, type RotationStatus } from '../crypt/data-key-rotation.js';
import {
  formatEnvelopeArg,
  type KeyEnvelope,
  newDataKey,
  unwrapDataKey,
  wrapDataKey,
} from '../crypt/index.js';
import { removeKekFile, writeKekFile } from '../crypt/kek-handoff.js';
import { readKekFile } from '../crypt/kek-material.js';
import { cryptoSecretKek } from './crypto-secret-file.js';
import { loadState, saveState, type VolumeState, withEngine } from './local-volume.js';
import type { VolumeEncryption } from './volume-encryption.js';

export interface DataKeyRotateOptions {
  /** The KEK's key file or crypto secret file (default: the one the volume remembers). */
  keyFile?: string;
  cryptoSecret?: string;
  /** Bytes per second to re-encrypt at most (0: no limit). */
  bandwidthLimit?: number;
}

export interface DataKeyRotateResult {
  /** True when this call started (or restarted) re-encryption; false when it was running already. */
  started: boolean;
  status: RotationStatus;
}

/** Starts a data-key rotation, or reports the one that runs. */
export async function rotateDataKey(
  dir: string,
  opts: DataKeyRotateOptions = {},
): Promise<DataKeyRotateResult> {
  const state = await loadState(dir);
  const enc = state.encryption;
  if (!enc) throw new Error(`volume ${state.volume} is not encrypted; there is no data key to rotate`);
  let status = await withEngine(state, (e) => e.dataKeyRotationStatus());
  if (status.state === 'running') return { started: false, status };
  const kek = await volumeKek(state, enc, opts);
  try {
    const current = envelopeOf(enc);
    // Also checks the KEK is the volume's (refused naming the key id when not).
    const currentKey = unwrapDataKey(current, kek, `volume ${state.volume}`);
    const currentId = dataKeyId(currentKey);
    currentKey.fill(0);
    if (enc.previous) {
      if (status.to === currentId && status.state === 'done') {
        if (status.snapshotsUsingPrevious.length > 0)
          throw new Error(
            `volume ${state.volume}: snapshots ${status.snapshotsUsingPrevious.join(', ')} still hold blocks under the previous data key ${enc.previous.dataKeyId}; delete them before another data-key rotation`,
          );
        settle(state, enc, status);
      } else {
        // Saved but never started (this tool stopped before asking), or failed: ask again.
        status = await askEngine(dir, state, current, enc.previous, kek, opts.bandwidthLimit);
        return { started: true, status };
      }
    }
    const fresh = newDataKey();
    const next: VolumeEncryption = {
      ...wrapDataKey(fresh, kek, current.cipher),
      keyFile: enc.keyFile,
      ...(enc.cryptoSecret ? { cryptoSecret: enc.cryptoSecret } : {}),
      dataKeyId: dataKeyId(fresh),
      previous: { ...current, dataKeyId: currentId },
    };
    fresh.fill(0);
    state.encryption = next;
    await saveState(dir, state);
    status = await askEngine(dir, state, envelopeOf(next), next.previous!, kek, opts.bandwidthLimit);
    return { started: true, status };
  } finally {
    kek.fill(0);
  }
}

/**
 * Drops the previous data key from the record once the engine says re-encryption to the current
 * one is done and no snapshot still holds blocks under it. True when it did (state to be saved).
 */
export function settle(
  state: VolumeState,
  enc: VolumeEncryption,
  status: RotationStatus | undefined,
): boolean {
  if (!enc.previous || !status || status.state !== 'done') return false;
  if (!enc.dataKeyId || status.to !== enc.dataKeyId || status.snapshotsUsingPrevious.length > 0) return false;
  const { previous: _, ...rest } = enc;
  state.encryption = rest;
  return true;
}

/** `volume info`'s view of the rotation, settling the record on the way. */
export async function settleDataKeyRotation(
  dir: string,
  state: VolumeState,
  status: RotationStatus | undefined,
): Promise<void> {
  if (state.encryption && settle(state, state.encryption, status)) await saveState(dir, state);
}

function envelopeOf(enc: KeyEnvelope): KeyEnvelope {
  return { cipher: enc.cipher, keyId: enc.keyId, wrappedKey: enc.wrappedKey };
}

async function volumeKek(
  state: VolumeState,
  enc: VolumeEncryption,
  opts: DataKeyRotateOptions,
): Promise<Buffer> {
  if (enc.cryptoSecret) {
    if (opts.keyFile)
      throw new Error(
        `volume ${state.volume}: its KEK comes from a crypto secret file; give --crypto-secret FILE`,
      );
    return cryptoSecretKek(state.volume, enc, opts.cryptoSecret);
  }
  if (opts.cryptoSecret)
    throw new Error(`volume ${state.volume}: its KEK comes from a key file; give --key-file FILE`);
  return readKekFile(resolve(opts.keyFile ?? enc.keyFile));
}

/** The rotation request, the KEK handed over in a 0600 file removed right after. */
async function askEngine(
  dir: string,
  state: VolumeState,
  current: KeyEnvelope,
  previous: KeyEnvelope,
  kek: Buffer,
  bandwidthLimit = 0,
): Promise<RotationStatus> {
  const handoff = await writeKekFile(join(resolve(dir), 'run'), 'rotate-data-key', kek);
  try {
    return await withEngine(state, (e) =>
      e.dataKeyRotate({
        encryption: formatEnvelopeArg(envelopeOf(current)),
        previousEncryption: formatEnvelopeArg(envelopeOf(previous)),
        kekFile: handoff,
        bandwidthLimit,
      }),
    );
  } finally {
    await removeKekFile(handoff);
  }
}
