/**
 * Carries out KEK rotation requests on encrypted Volumes (api/src/kek-rotation.ts): the
 * operator that owns the Volume (status.ownerID) re-wraps its data key through the key store and
 * answers in the result annotation, with a Normal or Warning Event naming both key ids or the
 * reason. Only key ids and Secret names are ever written.
 */

import {
  KEK_ROTATION_INTERVAL_ANNOTATION,
  KEK_ROTATION_RESULT_ANNOTATION,
  KEK_ROTATION_SCHEDULED_RESULT_ANNOTATION,
  type KekRotationResult,
  pendingRotation,
  type Volume,
} from '@longhorn-ts/api';
import type { Logger } from 'pino';
import { rfc3339 } from '../conditions.js';
import { noteEngineKeys } from '../encryption/engine-keys-note.js';
import { kekSchedule } from '../encryption/kek-schedule.js';
import { EncryptionKeyError, type VolumeKeyStore } from '../encryption/volume-key-store.js';
import { recordVolumeEvent } from '../k8s/events.js';
import { KINDS } from '../k8s/kinds.js';
import type { ReconcileResult } from '../runtime/work-queue.js';
import { type ControllerContext, nameOfKey } from './context.js';

export const KEK_ROTATION_CONTROLLER = 'kek-rotation';

export class KekRotationController {
  private readonly log: Logger;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly keys: VolumeKeyStore,
  ) {
    this.log = ctx.log.child({ controller: KEK_ROTATION_CONTROLLER });
    const ns = ctx.id.namespace;
    ctx.dispatcher.watch<Volume>('Volume', KEK_ROTATION_CONTROLLER, (v) =>
      pendingRotation(v.metadata.annotations) || v.metadata.annotations?.[KEK_ROTATION_INTERVAL_ANNOTATION]
        ? [`${ns}/${v.metadata.name}`]
        : [],
    );
  }

  /** Schedules already reported as invalid (volume -> the annotation's text), reported once. */
  private readonly invalid = new Map<string, string>();
  /**
   * The last request answered, per volume and answer annotation. A reconcile queued by an event
   * from before the answer may read the Volume from the cache before the answer is in it: the
   * request then looks pending and would rotate the key a second time.
   */
  private readonly answered = new Map<string, string>();

  /** The TOKEN of a scheduled rotation due now; else when to look again (or nothing to do). */
  private scheduled(volume: Volume): string | ReconcileResult | undefined {
    const name = volume.metadata.name;
    const s = kekSchedule(
      volume.metadata.annotations,
      volume.metadata.creationTimestamp,
      this.ctx.clock.now(),
    );
    if (s.kind !== 'invalid') this.invalid.delete(name);
    switch (s.kind) {
      case 'none':
        return undefined;
      case 'due':
        return s.token;
      case 'later':
        // A long interval is looked at again hourly (a clock or annotation change is caught then).
        return { requeueAfterMs: Math.min(s.inMs, 3_600_000) };
      case 'invalid': {
        const text = volume.metadata.annotations?.[KEK_ROTATION_INTERVAL_ANNOTATION] ?? '';
        if (this.invalid.get(name) !== text) {
          this.invalid.set(name, text);
          this.log.warn({ volume: name, err: s.message }, 'key rotation schedule refused');
          recordVolumeEvent(this.ctx.events, volume, 'Warning', 'KeyRotationScheduleInvalid', s.message);
        }
        return undefined;
      }
    }
  }

  async reconcile(key: string): Promise<ReconcileResult | undefined> {
    const { ctx } = this;
    const volume = ctx.caches.volumes.get(nameOfKey(key), ctx.id.namespace);
    if (volume === undefined || volume.metadata.deletionTimestamp !== undefined) {
      for (const k of [...this.answered.keys()])
        if (k.startsWith(`${nameOfKey(key)} `)) this.answered.delete(k);
      return undefined;
    }
    if (volume.status?.ownerID !== ctx.id.node) return undefined;
    let request = pendingRotation(volume.metadata.annotations);
    // A scheduled rotation answers in an annotation of its own: written to the on-demand result,
    // it would make the on-demand request look unanswered (and rotate again).
    let answerIn = KEK_ROTATION_RESULT_ANNOTATION;
    if (request === undefined) {
      const due = this.scheduled(volume);
      if (typeof due !== 'string') return due;
      request = due;
      answerIn = KEK_ROTATION_SCHEDULED_RESULT_ANNOTATION;
    }
    const name = volume.metadata.name;
    const memo = `${name} ${answerIn}`;
    // Answered already; the cache has not caught up with the answer (its event requeues this).
    if (this.answered.get(memo) === request) return undefined;
    const log = this.log.child({ volume: name });
    const result: KekRotationResult = { request, from: '', to: '', error: '', doneAt: '' };
    if (volume.spec.encrypted !== true) {
      result.error = `volume ${name} is not encrypted: there is no key to rotate`;
    } else {
      try {
        const { from, to } = await this.keys.rotate(volume);
        result.from = from;
        result.to = to;
      } catch (err) {
        if (!(err instanceof EncryptionKeyError)) throw err;
        result.error = err.message;
      }
    }
    result.doneAt = rfc3339(ctx.clock.now());
    await ctx.client.patch(KINDS.volume, name, {
      metadata: { annotations: { [answerIn]: JSON.stringify(result) } },
    });
    this.answered.set(memo, request);
    if (result.error === '') {
      log.info({ from: result.from, to: result.to }, 'key-encryption key rotated');
      // The engine keeps its data key; what wraps it now is the new KEK. Noted after the answer,
      // so the Volume updates this causes come after it too.
      await noteEngineKeys(
        ctx.client,
        ctx.caches.engines.get(`${name}-e-0`, ctx.id.namespace),
        (k) => k && { ...k, keyId: result.to },
        log,
      );
      recordVolumeEvent(
        ctx.events,
        volume,
        'Normal',
        'KeyRotated',
        `volume ${name}: data key re-wrapped from key ${result.from} to key ${result.to} (no data touched)`,
      );
    } else {
      log.warn({ err: result.error }, 'key-encryption key rotation failed');
      recordVolumeEvent(ctx.events, volume, 'Warning', 'KeyRotationFailed', result.error);
    }
    return undefined;
  }
}
