/**
 * Carries out data-key rotation requests on encrypted Volumes (api/src/data-key-rotation.ts):
 * the operator of the node where the volume's engine runs (else the Volume's owner, to refuse a
 * detached one) makes a new data key through the key store (saved with the replaced one before
 * the engine is asked), hands both to the engine (DataKeyRotate, the KEK in a 0600 file as at a
 * start), reports the engine's progress in the Volume's `DataKeyRotation` condition, and answers
 * in the result annotation once every block is under the new key, with Events. The decisions are
 * encryption/data-key-rotation-step.ts; a restarted operator picks the rotation up from the key
 * record's mark and the engine.
 */
import { join } from 'node:path';
import {
  DATA_KEY_ROTATION_CONDITION,
  DATA_KEY_ROTATION_RESULT_ANNOTATION,
  type DataKeyRotationResult,
  dataKeyRotationBandwidth,
  type Engine,
  parseDataKeyRotationResult,
  pendingDataKeyRotation,
  type Volume,
} from '@longhorn-ts/api';
import type { RotationStatus } from '@longhorn-ts/dataplane/crypt/data-key-rotation';
import {
  formatEnvelopeArg,
  type KeyEnvelope,
  removeKekFile,
  writeKekFile,
} from '@longhorn-ts/dataplane/crypt/index';
import type { Logger } from 'pino';
import { type Condition, getCondition, rfc3339, setCondition } from '../conditions.js';
import {
  type RotationMark,
  rotationCondition,
  rotationStep,
  type Step,
} from '../encryption/data-key-rotation-step.js';
import { noteEngineKeys } from '../encryption/engine-keys-note.js';
import { EncryptionKeyError, type VolumeKeyStore } from '../encryption/volume-key-store.js';
import { recordVolumeEvent } from '../k8s/events.js';
import { KINDS } from '../k8s/kinds.js';
import { isConflict } from '../runtime/api-errors.js';
import type { ReconcileResult } from '../runtime/work-queue.js';
import { type ControllerContext, nameOfKey } from './context.js';
import type { EngineController } from './engine-controller.js';
import { sameJson } from './same-json.js';

export const DATA_KEY_ROTATION_CONTROLLER = 'data-key-rotation';
/** How often a running re-encryption's progress is read from the engine. */
const PROGRESS_MS = 2_000;

export class DataKeyRotationController {
  private readonly log: Logger;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly keys: VolumeKeyStore,
    private readonly engines: EngineController,
  ) {
    this.log = ctx.log.child({ controller: DATA_KEY_ROTATION_CONTROLLER });
    const ns = ctx.id.namespace;
    ctx.dispatcher.watch<Volume>('Volume', DATA_KEY_ROTATION_CONTROLLER, (v) =>
      pendingDataKeyRotation(v.metadata.annotations) ||
      getCondition(v.status?.conditions as Condition[] | undefined, DATA_KEY_ROTATION_CONDITION)?.reason ===
        'InProgress'
        ? [`${ns}/${v.metadata.name}`]
        : [],
    );
  }

  async reconcile(key: string): Promise<ReconcileResult | undefined> {
    const { ctx } = this;
    const volume = ctx.caches.volumes.get(nameOfKey(key), ctx.id.namespace);
    if (volume === undefined || volume.metadata.deletionTimestamp !== undefined) return undefined;
    const name = volume.metadata.name;
    const engine = ctx.caches.engines.get(`${name}-e-0`, ctx.id.namespace);
    const running =
      engine?.spec.nodeID && engine.status?.currentState === 'running' ? engine.spec.nodeID : undefined;
    if ((running ?? volume.status?.ownerID) !== ctx.id.node) return undefined;
    const log = this.log.child({ volume: name });
    const request = pendingDataKeyRotation(volume.metadata.annotations);
    const encrypted = volume.spec.encrypted === true;
    let mark: RotationMark | undefined;
    let status: RotationStatus | undefined;
    if (encrypted) {
      try {
        mark = await this.keys.rotationMark(name);
      } catch (err) {
        if (!(err instanceof EncryptionKeyError)) throw err;
        if (request !== undefined) await this.answer(volume, request, { error: err.message }, log);
        return undefined;
      }
      if (running && engine) {
        status = await this.engineStatus(engine, log);
        if (status === undefined) return { requeueAfterMs: PROGRESS_MS };
      }
    }
    const last = parseDataKeyRotationResult(
      volume.metadata.annotations?.[DATA_KEY_ROTATION_RESULT_ANNOTATION],
    );
    const step = rotationStep({
      volume: name,
      encrypted,
      request,
      ...(last ? { lastAnswer: { to: last.to, error: last.error } } : {}),
      mark,
      engine: running && status ? { node: running, status } : undefined,
    });
    return this.act(volume, engine, step, mark, request, log);
  }

  private async act(
    volume: Volume,
    engine: Engine | undefined,
    step: Step,
    mark: RotationMark | undefined,
    request: string | undefined,
    log: Logger,
  ): Promise<ReconcileResult | undefined> {
    const name = volume.metadata.name;
    const now = rfc3339(this.ctx.clock.now());
    switch (step.kind) {
      case 'none':
        // A finished rotation whose condition was not written yet (a 409, a restart).
        if (mark?.doneAt && !(await this.condition(volume, { kind: 'finished', keepPrevious: [] }, mark)))
          return { requeueAfterMs: 200 };
        return undefined;
      case 'refuse':
        if (request !== undefined) await this.answer(volume, request, { error: step.error }, log);
        return undefined;
      case 'settle':
        if (mark?.doneAt) {
          await this.keys.finishDataKeyRotation(name, mark.to, mark.doneAt, false);
          log.info({ from: mark.from }, 'previous data key dropped: no snapshot uses it any more');
        }
        return undefined;
      case 'wait':
        if (!(await this.condition(volume, step, mark))) return { requeueAfterMs: 200 };
        return engine?.status?.currentState === 'running' ? { requeueAfterMs: 10_000 } : undefined;
      case 'progress':
        if (!(await this.condition(volume, step, mark))) return { requeueAfterMs: 200 };
        return { requeueAfterMs: PROGRESS_MS };
      case 'start':
      case 'ask':
        return this.askEngine(volume, engine!, step.kind, request, log);
      case 'finished': {
        if (!(await this.condition(volume, step, mark))) return { requeueAfterMs: 200 };
        // Answered before the mark says done: a crash between the two answers nothing twice.
        if (request !== undefined)
          await this.answer(volume, request, { from: mark!.from, to: mark!.to }, log);
        await this.keys.finishDataKeyRotation(name, mark!.to, now, step.keepPrevious.length > 0);
        await noteEngineKeys(
          this.ctx.client,
          engine,
          (k) =>
            k?.dataKeyId === mark!.to
              ? { dataKeyId: k.dataKeyId, keyId: k.keyId, secret: k.secret }
              : undefined,
          log,
        );
        log.info({ from: mark!.from, to: mark!.to, keptFor: step.keepPrevious }, 'data key rotated');
        recordVolumeEvent(
          this.ctx.events,
          volume,
          'Normal',
          'DataKeyRotated',
          `volume ${name}: every block re-encrypted from data key ${mark!.from} to ${mark!.to}`,
        );
        return undefined;
      }
      case 'failed':
        if (!(await this.condition(volume, step, mark))) return { requeueAfterMs: 200 };
        if (request !== undefined)
          await this.answer(
            volume,
            request,
            { from: mark!.from, to: mark!.to, error: `volume ${name}: ${step.error}` },
            log,
          );
        return undefined;
    }
  }

  /** A new rotation (start) or the one in flight again (ask), handed to the engine. */
  private async askEngine(
    volume: Volume,
    engine: Engine,
    kind: 'start' | 'ask',
    request: string | undefined,
    log: Logger,
  ): Promise<ReconcileResult | undefined> {
    const name = volume.metadata.name;
    const bandwidth = dataKeyRotationBandwidth(volume.metadata.annotations);
    if (typeof bandwidth !== 'number') {
      if (request !== undefined) await this.answer(volume, request, { error: bandwidth.problem }, log);
      return undefined;
    }
    let keys: { current: KeyEnvelope; previous: KeyEnvelope; kek: Buffer };
    let mark: RotationMark | undefined;
    try {
      if (kind === 'start') {
        const begun = await this.keys.beginDataKeyRotation(
          volume,
          request ?? '',
          this.ctx.id.node,
          rfc3339(this.ctx.clock.now()),
        );
        mark = begun.mark;
        keys = begun;
      } else {
        keys = await this.keys.dataKeyRotationKeys(volume);
      }
    } catch (err) {
      if (!(err instanceof EncryptionKeyError)) throw err;
      if (request !== undefined) await this.answer(volume, request, { error: err.message }, log);
      return undefined;
    }
    const client = await this.engines.service(engine);
    let status: RotationStatus | undefined;
    let refused = '';
    const dir = join(this.ctx.id.dataDir, 'run', 'keys');
    let kekFile = '';
    try {
      kekFile = await writeKekFile(dir, `${name}-data-key`, keys.kek);
      if (client === undefined) throw new Error('its engine is not running here');
      status = await client.dataKeyRotate({
        encryption: formatEnvelopeArg(keys.current),
        previousEncryption: formatEnvelopeArg(keys.previous),
        kekFile,
        bandwidthLimit: bandwidth,
      });
    } catch (err) {
      refused = (err as { details?: string }).details || (err as Error).message;
    } finally {
      keys.kek.fill(0);
      if (kekFile) await removeKekFile(kekFile);
    }
    if (mark) {
      log.info({ from: mark.from, to: mark.to, request }, 'data-key rotation started');
      recordVolumeEvent(
        this.ctx.events,
        volume,
        'Normal',
        'DataKeyRotationStarted',
        `volume ${name}: re-encrypting from data key ${mark.from} to ${mark.to}`,
      );
    }
    if (status === undefined) {
      // The key record names both keys already: the engine's next start takes the job up.
      log.warn({ err: refused }, 'the engine did not take the data-key rotation');
      const current = mark ?? (await this.keys.rotationMark(name));
      await this.condition(volume, { kind: 'failed', error: refused }, current);
      if (request !== undefined)
        await this.answer(
          volume,
          request,
          { from: current?.from ?? '', to: current?.to ?? '', error: `volume ${name}: ${refused}` },
          log,
        );
      return undefined;
    }
    // The running engine now holds both data keys: its note says so (its next start would too).
    const taken = mark ?? (await this.keys.rotationMark(name));
    if (taken)
      await noteEngineKeys(
        this.ctx.client,
        engine,
        (k) => k && { ...k, dataKeyId: taken.to, rotatingFrom: taken.from },
        log,
      );
    await this.condition(volume, { kind: 'progress', status }, mark);
    return { requeueAfterMs: PROGRESS_MS };
  }

  private async engineStatus(engine: Engine, log: Logger): Promise<RotationStatus | undefined> {
    const client = await this.engines.service(engine);
    if (client === undefined) return undefined;
    try {
      return await client.dataKeyRotationStatus();
    } catch (err) {
      log.debug({ err: (err as Error).message }, 'rotation status not read');
      return undefined;
    }
  }

  /** Writes the condition for `step`; false when the Volume changed meanwhile (try again). */
  private async condition(volume: Volume, step: Step, mark: RotationMark | undefined): Promise<boolean> {
    const c = rotationCondition(step, mark);
    if (c === undefined) return true;
    const before = (volume.status?.conditions ?? []) as Condition[];
    const conditions = setCondition(
      before,
      DATA_KEY_ROTATION_CONDITION,
      c.status,
      c.reason,
      c.message,
      rfc3339(this.ctx.clock.now()),
    );
    if (sameJson(conditions, before)) return true;
    try {
      await this.ctx.client.patchStatus(KINDS.volume, volume, { conditions });
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  private async answer(
    volume: Volume,
    request: string,
    fields: Partial<DataKeyRotationResult>,
    log: Logger,
  ): Promise<void> {
    const result: DataKeyRotationResult = {
      request,
      from: fields.from ?? '',
      to: fields.to ?? '',
      error: fields.error ?? '',
      doneAt: rfc3339(this.ctx.clock.now()),
    };
    if (result.error) {
      log.warn({ request, err: result.error }, 'data-key rotation request failed');
      recordVolumeEvent(this.ctx.events, volume, 'Warning', 'DataKeyRotationFailed', result.error);
    }
    await this.ctx.client.patch(KINDS.volume, volume.metadata.name, {
      metadata: { annotations: { [DATA_KEY_ROTATION_RESULT_ANNOTATION]: JSON.stringify(result) } },
    });
  }
}
