/**
 * The background job of a data-key rotation in an engine process: walks the volume a chunk at a
 * time (CryptBlockDevice.reencrypt, under the range lock writes take), records its progress
 * durably through `save` (the engine's state file) around every chunk, and once the watermark
 * reaches the end records the rotation done with the snapshots that existed then (their layers
 * hold blocks under the previous key; data-key-rotation.ts). One rotation at a time; asking
 * again while one runs answers its status.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '../logging/logger.js';
import type { CryptBlockDevice } from './crypt-device.js';
import { CryptError } from './crypt-error.js';
import {
  checkRevert,
  dataKeyId,
  nextChunk,
  type RotationRecord,
  type RotationStatus,
  rotationStatus,
  snapshotsUsingPrevious,
} from './data-key-rotation.js';
import { type KeyEnvelope, unwrapDataKey } from './key-envelope.js';

const NO_STATE_FILE = 'this engine has no state file to keep re-encryption progress in (--state-file)';

export interface RotationHost {
  volume: string;
  device: CryptBlockDevice;
  /** Makes the record durable (resolves once it is on stable storage); null when nothing can. */
  save: ((record: RotationRecord) => Promise<void>) | null;
  /** Names of the volume's snapshots (its layers but the head), deleted ones left out. */
  snapshots(): Promise<string[]>;
  log: Logger;
  /** Bytes per step; ROTATION_CHUNK unless given (tests use smaller ones). */
  chunkBytes?: number;
}

export interface RotateRequest {
  /** The new data key's envelope and the one it replaces (the engine's key now), both under `kek`. */
  current: KeyEnvelope;
  previous: KeyEnvelope;
  kek: Buffer;
  /** Bytes per second the job may re-encrypt (0: no limit). */
  bandwidthLimit?: number;
}

export class DataKeyRotator {
  private record: RotationRecord | undefined;
  private error = '';
  private running: Promise<void> | null = null;
  private stopping = false;

  /**
   * `keyId`: dataKeyId of the key the engine serves with (the current one); `record`: what the
   * state file holds (planResume decided it fits the keys this engine was given).
   */
  constructor(
    private readonly host: RotationHost,
    private keyId: string,
    record?: RotationRecord,
  ) {
    this.record = record;
  }

  /** Continues a rotation the last engine did not finish (the device holds both keys). */
  resume(): void {
    if (this.record && !this.record.done) this.run();
  }

  async status(): Promise<RotationStatus> {
    const size = this.host.device.size();
    let using: string[] = [];
    if (this.record?.done && this.record.done.snapshots.length > 0) {
      using = snapshotsUsingPrevious(this.record, await this.host.snapshots());
    }
    return rotationStatus(this.record, size, this.running ? '' : this.error, using);
  }

  /**
   * Starts re-encrypting to `req.current` (or answers the status of the same rotation already
   * running or done). Refused when another runs, or while snapshots of the last one still hold
   * blocks under its previous key (the record keeps two keys, not three).
   */
  async rotate(req: RotateRequest): Promise<RotationStatus> {
    const what = `volume ${this.host.volume}`;
    const prevKey = unwrapDataKey(req.previous, req.kek, what);
    const newKey = unwrapDataKey(req.current, req.kek, what);
    try {
      const from = dataKeyId(prevKey);
      const to = dataKeyId(newKey);
      const rec = this.record;
      if (rec && !rec.done) {
        if (rec.to !== to) {
          throw new CryptError(
            'EPERM',
            `${what}: a re-encryption to data key ${rec.to} is running; it must finish before another`,
          );
        }
        // Failed (a chunk could not be written): asking again retries from the watermark.
        if (!this.running) this.run();
        return this.status();
      }
      if (rec?.done && rec.to === to) return this.status();
      if (from !== this.keyId) {
        throw new CryptError(
          'EPERM',
          `${what}: the request re-encrypts from data key ${from}, but the volume's data key is ${this.keyId}`,
        );
      }
      if (from === to)
        throw new CryptError('INVALID_ARGUMENT', `${what}: the new data key is the current one`);
      const using = rec ? snapshotsUsingPrevious(rec, await this.host.snapshots()) : [];
      if (using.length > 0) {
        throw new CryptError(
          'EPERM',
          `${what}: snapshots ${using.join(', ')} still hold blocks under data key ${rec!.from}; delete them before another data-key rotation`,
        );
      }
      if (!this.host.save) {
        throw new CryptError('EPERM', `${what}: ${NO_STATE_FILE}`);
      }
      // Durable before any block moves: a restart finds the rotation and resumes it.
      const limit = req.bandwidthLimit ?? 0;
      const record: RotationRecord = {
        from,
        to,
        watermark: 0,
        ...(limit > 0 ? { bandwidthLimit: limit } : {}),
      };
      await this.host.save(record);
      this.record = record;
      await this.host.device.beginRotation(newKey);
      this.keyId = to;
      this.error = '';
      this.host.log.info({ from, to }, 'data-key rotation started');
      this.run();
      return this.status();
    } finally {
      prevKey.fill(0);
      newKey.fill(0);
    }
  }

  /** Refuses a revert onto a snapshot with blocks under another key than the current one. */
  async checkRevert(snapshot: string): Promise<void> {
    if (!this.record) return;
    checkRevert(this.host.volume, this.record, snapshot, await this.host.snapshots());
  }

  /** Stops after the chunk in hand (engine shutdown); progress so far is recorded. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
  }

  private run(): void {
    this.running = this.loop()
      .catch((err: unknown) => {
        this.error = err instanceof Error ? err.message : String(err);
        this.host.log.warn(
          { err: this.error, watermark: this.record?.watermark },
          'data-key rotation failed',
        );
      })
      .finally(() => {
        this.running = null;
      });
  }

  private async loop(): Promise<void> {
    const save = this.host.save;
    if (!save) throw new CryptError('EPERM', `volume ${this.host.volume}: ${NO_STATE_FILE}`);
    const device = this.host.device;
    const started = Date.now();
    let moved = 0;
    for (;;) {
      if (this.stopping) return;
      const rec = this.record!;
      const { inProgress: resumed, done: _, ...base } = rec;
      const chunk = nextChunk(rec.watermark, device.size(), this.host.chunkBytes);
      if (!chunk) {
        // The end (unless the volume grew meanwhile): recorded done with the snapshots there are.
        const finished = await device.finishRotation(async () => {
          const snapshots = await this.host.snapshots();
          const done: RotationRecord = { ...base, done: { at: new Date().toISOString(), snapshots } };
          await save(done);
          this.record = done;
        });
        if (finished) break;
        continue;
      }
      // The chunk a stopped engine was writing is redone with its fingerprints, as it was cut.
      const length = resumed ? resumed.end - rec.watermark : chunk.length;
      await device.reencrypt(
        length,
        resumed?.blocks,
        async (end, blocks) => {
          const next = { ...base, inProgress: { end, blocks } };
          await save(next);
          this.record = next;
        },
        async (end) => {
          const next = { ...base, watermark: end };
          await save(next);
          this.record = next;
        },
      );
      moved += length;
      if (base.bandwidthLimit) {
        const due = started + (moved / base.bandwidthLimit) * 1000;
        if (due > Date.now()) await delay(due - Date.now());
      }
    }
    const done = this.record!;
    this.host.log.info({ to: done.to, snapshots: done.done?.snapshots }, 'data-key rotation done');
  }
}
