/**
 * `volume rotate-key` (pure): its flags checked, the request it writes on the Volume (a fresh
 * TOKEN in the request annotation, the bandwidth beside it for a data-key rotation) and where the
 * rotation stands, read from the Volume the operator answers on (api kek-rotation.ts,
 * data-key-rotation.ts). The command polls `rotationStep` until done or failed.
 */
import {
  DATA_KEY_ROTATION_BANDWIDTH_ANNOTATION,
  DATA_KEY_ROTATION_CONDITION,
  DATA_KEY_ROTATION_REQUEST_ANNOTATION,
  DATA_KEY_ROTATION_RESULT_ANNOTATION,
  dataKeyRotationBandwidth,
  KEK_ROTATION_REQUEST_ANNOTATION,
  KEK_ROTATION_RESULT_ANNOTATION,
  parseRotationAnswer,
  type Volume,
} from '@longhorn-ts/api';
import { PluginError, usageError } from '../errors.js';
import { formatBytes, parseSize } from '../output/format.js';

export type RotationKind = 'kek' | 'data-key';

interface KindInfo {
  request: string;
  result: string;
  /** For messages: "key-encryption key rotation". */
  what: string;
}

export const ROTATIONS: Record<RotationKind, KindInfo> = {
  kek: {
    request: KEK_ROTATION_REQUEST_ANNOTATION,
    result: KEK_ROTATION_RESULT_ANNOTATION,
    what: 'key-encryption key rotation',
  },
  'data-key': {
    request: DATA_KEY_ROTATION_REQUEST_ANNOTATION,
    result: DATA_KEY_ROTATION_RESULT_ANNOTATION,
    what: 'data-key rotation',
  },
};

export interface RotateKeyRequest {
  kind: RotationKind;
  /** Bytes per second, data-key rotation only; undefined leaves the annotation as it is. */
  bandwidth?: number | undefined;
}

/** The flags as a request; USAGE errors for a bandwidth that is not a positive rate or not for a data key. */
export function rotateKeyRequest(flags: {
  dataKey: boolean;
  bandwidth?: string | undefined;
}): RotateKeyRequest {
  const kind: RotationKind = flags.dataKey ? 'data-key' : 'kek';
  if (flags.bandwidth === undefined) return { kind };
  const text = flags.bandwidth.trim();
  if (!flags.dataKey) {
    throw usageError(
      '--bandwidth limits the re-encryption of a data-key rotation: add --data-key (a key-encryption key rotation reads and writes no data)',
    );
  }
  const bytes = parseSize(text);
  if (bytes === undefined) {
    const notPositive = /^-\s*\d/.test(text) || /^\+?0+(\.0*)?\s*(Ki|Mi|Gi|Ti|Pi|k|K|M|G|T|P)?B?$/.test(text);
    throw usageError(
      `--bandwidth ${text} is not ${notPositive ? 'a positive' : 'a'} number of bytes per second; write e.g. 4194304 or 4Mi, or leave it out for no new limit`,
    );
  }
  // What the operator accepts in the annotation (a plain integer of at most 15 digits).
  const accepted = dataKeyRotationBandwidth({ [DATA_KEY_ROTATION_BANDWIDTH_ANNOTATION]: String(bytes) });
  if (typeof accepted !== 'number')
    throw usageError(
      `--bandwidth ${text} is ${bytes} bytes per second, more than the 15 digits the operator reads`,
    );
  return { kind, bandwidth: bytes };
}

/** Refused before anything is written: a volume that is not encrypted has no key to rotate. */
export function rotationRefusal(volume: Volume): PluginError | undefined {
  if (volume.spec.encrypted === true) return undefined;
  return new PluginError(
    'REFUSED',
    `volume ${volume.metadata.name} is not encrypted: it has no key to rotate (spec.encrypted is set when a volume is created and never changes)`,
  );
}

/** A request TOKEN no earlier request used: the time and 6 random hex digits. */
export function rotationToken(now: number, random: string): string {
  return `kubectl-${new Date(now)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}-${random}`;
}

/** The JSON merge patch that asks for the rotation. */
export function rotationPatch(request: RotateKeyRequest, token: string): object {
  const annotations: Record<string, string> = { [ROTATIONS[request.kind].request]: token };
  if (request.bandwidth !== undefined)
    annotations[DATA_KEY_ROTATION_BANDWIDTH_ANNOTATION] = String(request.bandwidth);
  return { metadata: { annotations } };
}

export type RotationStep =
  | { kind: 'waiting'; step: string; percent?: number | undefined }
  | { kind: 'done'; from: string; to: string }
  | { kind: 'failed'; error: string };

/**
 * Where the rotation asked with `token` stands: answered (done or failed, by the result
 * annotation naming the token), or waiting with the DataKeyRotation condition's progress (its
 * message up to the percent as the step, so a progress line is printed per step or 10 %).
 */
export function rotationStep(volume: Volume, kind: RotationKind, token: string): RotationStep {
  const answer = parseRotationAnswer(volume.metadata.annotations?.[ROTATIONS[kind].result]);
  if (answer?.request === token) {
    if (answer.error) return { kind: 'failed', error: answer.error };
    return { kind: 'done', from: answer.from, to: answer.to };
  }
  if (kind === 'data-key') {
    const c = volume.status?.conditions?.find((x) => x.type === DATA_KEY_ROTATION_CONDITION);
    if (c?.reason === 'InProgress' && c.message) {
      const m = /^(.*): (\d{1,3})% \(.*\)$/.exec(c.message);
      if (m) return { kind: 'waiting', step: m[1] ?? c.message, percent: Number(m[2]) };
      return { kind: 'waiting', step: c.message };
    }
  }
  const owner = volume.status?.ownerID;
  return { kind: 'waiting', step: `waiting for the operator${owner ? ` on ${owner}` : ''}` };
}

/** The line printed on success, naming both key ids. */
export function rotationSummary(volume: string, request: RotateKeyRequest, from: string, to: string): string {
  if (request.kind === 'kek')
    return `volume.longhorn.io/${volume}: key-encryption key rotated from ${from} to ${to} (data key re-wrapped, no data touched)`;
  const rate = request.bandwidth === undefined ? '' : ` at most ${formatBytes(request.bandwidth)}/s`;
  return `volume.longhorn.io/${volume}: data key rotated from ${from} to ${to} (every block re-encrypted${rate})`;
}
