/**
 * Data-key rotation as the operator drives it (api/src/data-key-rotation.ts), the decisions:
 * pure, from the pending request, what the key record Secret says about the last rotation (its
 * mark) and what the volume's running engine reports. The I/O is in
 * controllers/data-key-rotation-controller.ts; the re-encryption itself in the engine
 * (dataplane crypt/rotation-job.ts).
 *
 * The mark is written before the engine is asked: an engine that never got the request is given
 * both keys at its next start and starts the re-encryption then. The engine's progress (its
 * watermark) is kept on the volume's replicas (dataplane crypt/rotation-record.ts), so an engine
 * on any node the volume attaches to goes on with it.
 */
import type { RotationStatus } from '@longhorn-ts/dataplane/crypt/data-key-rotation';
import type { KeyEnvelope } from '@longhorn-ts/dataplane/crypt/index';

/** What the key record Secret keeps about the volume's last data-key rotation. */
export interface RotationMark {
  /** The TOKEN that started it. */
  request: string;
  /** The node whose operator started it (the engine that goes on with it may run elsewhere). */
  node: string;
  /** Data key ids (dk-...) replaced and replacing. */
  from: string;
  to: string;
  startedAt: string;
  /** Set once the engine reported every block under `to`. */
  doneAt?: string;
  /**
   * The replaced data key, wrapped by the same KEK as the current one: an engine needs it until
   * the rotation is done; kept after that while snapshots taken before the end hold blocks under it.
   */
  previous?: KeyEnvelope;
}

export interface StepInput {
  volume: string;
  encrypted: boolean;
  /** The request TOKEN not answered yet. */
  request: string | undefined;
  /** The last answer's `to` and error ('' for a success), to tell an answered failure. */
  lastAnswer?: { to: string; error: string };
  mark: RotationMark | undefined;
  /** The volume's running engine and what it says; undefined when it has none. */
  engine: { node: string; status: RotationStatus } | undefined;
}

export type Step =
  | { kind: 'none' }
  /** Answer the request with this error (no rotation started). */
  | { kind: 'refuse'; error: string }
  /** A new data key: write the mark, then ask the engine. */
  | { kind: 'start' }
  /** Ask the engine with the mark's keys (it never got them, or it failed and is asked again). */
  | { kind: 'ask' }
  | { kind: 'progress'; status: RotationStatus }
  /** Paused (no engine to go on with it): the condition says why; the request waits. */
  | { kind: 'wait'; message: string }
  /** Done: mark it, drop the previous key unless snapshots hold blocks under it, answer. */
  | { kind: 'finished'; keepPrevious: string[] }
  /** The engine's job failed: answer with its error (a new request resumes it). */
  | { kind: 'failed'; error: string }
  /** A finished rotation's previous key is used by no snapshot any more: drop it from the record. */
  | { kind: 'settle' };

export function rotationStep(input: StepInput): Step {
  const { volume, request, mark, engine } = input;
  if (!input.encrypted)
    return request === undefined
      ? { kind: 'none' }
      : { kind: 'refuse', error: `volume ${volume} is not encrypted: it has no data key to rotate` };

  if (mark && !mark.doneAt) {
    if (engine === undefined)
      return {
        kind: 'wait',
        message: `re-encryption from data key ${mark.from} to ${mark.to} is paused: the volume is not attached; it goes on from where it stopped when the volume is attached (to any node)`,
      };
    const s = engine.status;
    if (s.to !== mark.to) {
      // Another rotation runs there (not ours): wait for it to end.
      if (s.state === 'running')
        return { kind: 'wait', message: `the engine is re-encrypting to data key ${s.to}, not ${mark.to}` };
      return { kind: 'ask' };
    }
    switch (s.state) {
      case 'running':
        return { kind: 'progress', status: s };
      case 'done':
        return { kind: 'finished', keepPrevious: s.snapshotsUsingPrevious };
      case 'failed': {
        const answered = input.lastAnswer?.to === mark.to && input.lastAnswer.error !== '';
        if (request === undefined) return { kind: 'none' };
        // The failure was answered already: this is a new request, which resumes the job.
        if (answered) return { kind: 'ask' };
        return { kind: 'failed', error: s.error || 'the engine stopped re-encrypting' };
      }
      default:
        return { kind: 'ask' };
    }
  }

  // No rotation in flight (none ever, or the last one done). The request that started the last
  // one was answered before its mark was done: seen pending again, the Volume came from a cache
  // that has not caught up with the answer (the same TOKEN again starts nothing).
  if (request !== undefined && mark?.doneAt && mark.request === request) return { kind: 'none' };
  const usedBySnapshots =
    mark?.previous && engine?.status.state === 'done' && engine.status.to === mark.to
      ? engine.status.snapshotsUsingPrevious
      : undefined;
  if (request === undefined)
    return usedBySnapshots !== undefined && usedBySnapshots.length === 0
      ? { kind: 'settle' }
      : { kind: 'none' };
  if (engine === undefined)
    return {
      kind: 'refuse',
      error: `volume ${volume} is not attached: attach it (a pod or an attachment ticket) to rotate its data key; its blocks are re-encrypted by its engine`,
    };
  if (engine.status.state === 'running')
    return { kind: 'wait', message: `the engine is re-encrypting to data key ${engine.status.to}` };
  if (usedBySnapshots !== undefined && usedBySnapshots.length > 0)
    return {
      kind: 'refuse',
      error: `volume ${volume}: snapshots ${usedBySnapshots.join(', ')} still hold blocks under the previous data key ${mark!.from}; delete them before another data-key rotation`,
    };
  return { kind: 'start' };
}

/** The `DataKeyRotation` condition for a step (undefined: leave it as it is). */
export function rotationCondition(
  step: Step,
  mark: RotationMark | undefined,
): { status: 'True' | 'False'; reason: string; message: string } | undefined {
  switch (step.kind) {
    case 'progress': {
      const s = step.status;
      return {
        status: 'True',
        reason: 'InProgress',
        message: `re-encrypting from data key ${s.from} to ${s.to}: ${s.percent}% (${s.bytesDone} of ${s.bytesTotal} bytes)`,
      };
    }
    case 'wait':
      return { status: 'True', reason: 'InProgress', message: step.message };
    case 'finished':
      return {
        status: 'True',
        reason: 'Completed',
        message: `every block re-encrypted from data key ${mark?.from} to ${mark?.to}: 100%${
          step.keepPrevious.length > 0
            ? `; the previous data key is kept while snapshots ${step.keepPrevious.join(', ')} hold blocks under it`
            : ''
        }`,
      };
    case 'failed':
      return {
        status: 'False',
        reason: 'Failed',
        message: `re-encryption from data key ${mark?.from} to ${mark?.to} failed: ${step.error}; a new request resumes it`,
      };
    default:
      return undefined;
  }
}

/**
 * Whether the rotation record in a node's engine state file is left from an older rotation (the
 * volume was rotated again elsewhere since): done, and about neither of the keys this start
 * gives. Such a record would make the engine refuse the start (`stale key arguments`); it only
 * guarded reverts onto snapshots the later rotation re-encrypted over, so it can go. A record
 * not done is never stale here: it may hold the only progress of a re-encryption.
 */
export function staleRotationRecord(
  saved: { to?: unknown; done?: unknown } | undefined,
  current: string,
  previous: string | undefined,
): boolean {
  if (saved?.done === undefined || saved.done === null) return false;
  return saved.to !== current && saved.to !== previous;
}
