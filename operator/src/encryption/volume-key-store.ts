/**
 * An encrypted volume's keys as the operator gets them for an engine start: the crypto Secret
 * (crypto-secret-ref.ts) gives the key-encryption key; the volume's key record (its data key
 * wrapped by that KEK, and how to get the KEK back) lives in the Secret
 * `longhorn-ts-keys-<volume>` of the operator's namespace, owned by the Volume (deleted with
 * it), created at the first start. Key material is never written to a custom resource or a log;
 * failures are EncryptionKeyErrors whose message names the Secret and the key.
 */
import type { CoreV1Api, V1PersistentVolume, V1Secret } from '@kubernetes/client-node';
import { LABEL_VOLUME, LONGHORN_API_VERSION, type Volume } from '@longhorn-ts/api';
import { dataKeyId } from '@longhorn-ts/dataplane/crypt/data-key-rotation';
import {
  decodeSecretData,
  type KekSource,
  type KeyEnvelope,
  newDataKey,
  parseCryptoSecret,
  unwrapDataKey,
  wrapDataKey,
} from '@longhorn-ts/dataplane/crypt/index';
import { kmsClient } from '@longhorn-ts/dataplane/crypt/kms-kek';
import {
  createVolumeKeys,
  type KeyContext,
  openVolumeKek,
  parseKeyRecord,
  rotateVolumeKek,
  type VolumeKeyRecord,
} from '@longhorn-ts/dataplane/crypt/volume-key-record';
import { backupKeyProblem, keyRecordParameters } from './backup-key-record.js';
import { cryptoSecretRef, keyRecordSecretName, type SecretRef } from './crypto-secret-ref.js';
import type { RotationMark } from './data-key-rotation-step.js';

const CSI_DRIVER = 'driver.longhorn.io';
const RECORD_FIELD = 'key-record.json';
/** The last data-key rotation's mark (data-key-rotation-step.ts), beside the record. */
const ROTATION_FIELD = 'data-key-rotation.json';

export class EncryptionKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EncryptionKeyError';
  }
}

export interface OpenedKeys {
  envelope: KeyEnvelope;
  /** The current data key's id (dk-...). */
  dataKeyId: string;
  /** A data-key rotation not done yet: the engine is given the key it replaces too. */
  rotation?: RotationMark & { previous: KeyEnvelope };
  /** The KEK (32 bytes): hand it to the engine, then zero it. */
  kek: Buffer;
  /** "crypto Secret NS/NAME", for logs. */
  secret: string;
}

export class VolumeKeyStore {
  constructor(
    private readonly core: CoreV1Api,
    private readonly namespace: string,
  ) {}

  /** The volume's envelope and KEK for an engine start; the first start creates its key record. */
  async open(volume: Volume): Promise<OpenedKeys> {
    const { source, ctx } = await this.source(volume);
    try {
      const stored = await this.readRecord(volume.metadata.name);
      if (stored) {
        const kek = await guard(() => openVolumeKek(stored.record, source, ctx));
        const mark = stored.mark;
        return {
          envelope: stored.record.envelope,
          dataKeyId: idOf(stored.record.envelope, kek, volume.metadata.name),
          kek,
          secret: ctx.sourceName,
          ...(mark?.previous && !mark.doneAt ? { rotation: { ...mark, previous: mark.previous } } : {}),
        };
      }
      const created = await guard(() => createVolumeKeys(source, ctx));
      const won = await this.createRecord(volume, created.record);
      if (won)
        return {
          envelope: created.record.envelope,
          dataKeyId: idOf(created.record.envelope, created.kek, volume.metadata.name),
          kek: created.kek,
          secret: ctx.sourceName,
        };
      // Someone else made the record meanwhile: theirs is the volume's.
      created.kek.fill(0);
      const theirs = await this.readRecord(volume.metadata.name);
      if (!theirs) throw new EncryptionKeyError(`volume ${volume.metadata.name}: its key record vanished`);
      const kek = await guard(() => openVolumeKek(theirs.record, source, ctx));
      return {
        envelope: theirs.record.envelope,
        dataKeyId: idOf(theirs.record.envelope, kek, volume.metadata.name),
        kek,
        secret: ctx.sourceName,
      };
    } finally {
      ctx.kms?.destroy();
    }
  }

  /** Re-wraps the volume's data key with a new KEK (no data touched); the old and new key ids. */
  async rotate(volume: Volume): Promise<{ from: string; to: string }> {
    const { source, ctx } = await this.source(volume);
    try {
      const stored = await this.readRecord(volume.metadata.name);
      if (!stored)
        throw new EncryptionKeyError(
          `volume ${volume.metadata.name} has no key record yet (it has never been attached): nothing to rotate`,
        );
      const mark = stored.mark;
      // Both data keys are wrapped by one KEK: re-wrapping one would strand the other.
      if (mark?.previous)
        throw new EncryptionKeyError(
          `volume ${volume.metadata.name}: its key record holds two data keys (${mark.from} and ${mark.to}) while ${mark.doneAt ? 'snapshots taken before its data-key rotation finished remain' : 'its data-key rotation runs'}; rotate the key-encryption key after that`,
        );
      const rotated = await guard(() => rotateVolumeKek(stored.record, source, ctx));
      rotated.kek.fill(0);
      await this.core.replaceNamespacedSecret({
        name: stored.secret.metadata!.name!,
        namespace: this.namespace,
        body: { ...stored.secret, data: { ...stored.secret.data, [RECORD_FIELD]: encode(rotated.record) } },
      });
      return { from: stored.record.envelope.keyId, to: rotated.record.envelope.keyId };
    } finally {
      ctx.kms?.destroy();
    }
  }

  /**
   * The backup.cfg Parameters a backup of `snapshot` (taken at `created`) carries: the volume's
   * key record, which is all a restored volume needs besides the KEK. No key material is opened.
   */
  async backupParameters(
    volume: string,
    snapshot: string,
    created?: string,
  ): Promise<Record<string, string>> {
    const stored = await this.readRecord(volume);
    if (!stored)
      throw new EncryptionKeyError(
        `encrypted volume ${volume} has no key record (it has never been attached): nothing to back up`,
      );
    const problem = backupKeyProblem(volume, snapshot, created, stored.mark);
    if (problem) throw new EncryptionKeyError(problem);
    return keyRecordParameters(stored.record);
  }

  /**
   * Makes the key record `carried` (from backup `backup`) the volume's, before its engine first
   * starts: checked first against the volume's crypto Secret (it must open it). A volume that has
   * a record already must hold the same data key. Returns the data key id.
   */
  adoptBackupRecord(volume: Volume, carried: VolumeKeyRecord, backup: string): Promise<string> {
    return this.adopt(volume, carried, `backup ${backup}`, `restore that backup into a new volume`);
  }

  /** The same for a clone of volume `source`: its blocks are the source's ciphertext. */
  async adoptSourceRecord(volume: Volume, source: string): Promise<string> {
    const stored = await this.readRecord(source);
    if (!stored)
      throw new EncryptionKeyError(
        `encrypted volume ${source} has no key record (it has never been attached): nothing to clone`,
      );
    return this.adopt(volume, stored.record, `volume ${source}`, `clone it into a new volume`);
  }

  private async adopt(
    volume: Volume,
    carried: VolumeKeyRecord,
    from: string,
    remedy: string,
  ): Promise<string> {
    const name = volume.metadata.name;
    const { source, ctx } = await this.source(volume);
    try {
      const kek = await guard(() => openVolumeKek(carried, source, ctx), `${from}'s key record`);
      let carriedId: string;
      try {
        carriedId = idOf(carried.envelope, kek, name);
      } finally {
        kek.fill(0);
      }
      let stored = await this.readRecord(name);
      if (!stored) {
        if (await this.createRecord(volume, carried)) return carriedId;
        stored = await this.readRecord(name);
        if (!stored) throw new EncryptionKeyError(`volume ${name}: its key record vanished`);
      }
      const record = stored.record;
      const own = await guard(() => openVolumeKek(record, source, ctx));
      let ownId: string;
      try {
        ownId = idOf(record.envelope, own, name);
      } finally {
        own.fill(0);
      }
      if (ownId !== carriedId)
        throw new EncryptionKeyError(
          `volume ${name} holds data under data key ${ownId}, ${from} under data key ${carriedId}: ${remedy}`,
        );
      return carriedId;
    } finally {
      ctx.kms?.destroy();
    }
  }

  /** Why volume `source`'s `snapshot` (taken at `created`) cannot be cloned for its keys, or null. */
  async cloneSnapshotProblem(source: string, snapshot: string, created?: string): Promise<string | null> {
    return backupKeyProblem(source, snapshot, created, (await this.readRecord(source))?.mark, 'clone');
  }

  /** The last data-key rotation's mark, if any (no key material is opened). */
  async rotationMark(volume: string): Promise<RotationMark | undefined> {
    return (await this.readRecord(volume))?.mark;
  }

  /**
   * A new data key for `volume`, wrapped by its KEK, made the current one; the replaced one kept
   * as the mark's previous key (both saved before any engine is asked). Returns both envelopes and
   * the KEK (hand it to the engine, then zero it). Refused while the last rotation is not done.
   */
  async beginDataKeyRotation(
    volume: Volume,
    request: string,
    node: string,
    now: string,
  ): Promise<{ mark: RotationMark; current: KeyEnvelope; previous: KeyEnvelope; kek: Buffer }> {
    const name = volume.metadata.name;
    const { source, ctx } = await this.source(volume);
    try {
      const stored = await this.readRecord(name);
      if (!stored)
        throw new EncryptionKeyError(`volume ${name} has no key record yet (it has never been attached)`);
      if (stored.mark?.previous && !stored.mark.doneAt)
        throw new EncryptionKeyError(
          `volume ${name}: the re-encryption from data key ${stored.mark.from} to ${stored.mark.to} is not done`,
        );
      const kek = await guard(() => openVolumeKek(stored.record, source, ctx));
      const previous = stored.record.envelope;
      const old = unwrapDataKey(previous, kek, `volume ${name}`);
      const fresh = newDataKey();
      let current: KeyEnvelope;
      let mark: RotationMark;
      try {
        current = wrapDataKey(fresh, kek, previous.cipher);
        mark = { request, node, from: dataKeyId(old), to: dataKeyId(fresh), startedAt: now, previous };
      } finally {
        old.fill(0);
        fresh.fill(0);
      }
      try {
        await this.write(stored.secret, { envelope: current, kek: stored.record.kek }, mark);
      } catch (err) {
        kek.fill(0);
        throw err;
      }
      return { mark, current, previous, kek };
    } finally {
      ctx.kms?.destroy();
    }
  }

  /** The keys of the rotation in flight, to ask its engine again (the KEK: zero it after use). */
  async dataKeyRotationKeys(
    volume: Volume,
  ): Promise<{ current: KeyEnvelope; previous: KeyEnvelope; kek: Buffer }> {
    const name = volume.metadata.name;
    const { source, ctx } = await this.source(volume);
    try {
      const stored = await this.readRecord(name);
      const previous = stored?.mark?.previous;
      if (!stored || !previous || stored.mark?.doneAt)
        throw new EncryptionKeyError(`volume ${name}: no data-key rotation is in progress`);
      const kek = await guard(() => openVolumeKek(stored.record, source, ctx));
      return { current: stored.record.envelope, previous, kek };
    } finally {
      ctx.kms?.destroy();
    }
  }

  /**
   * Records the rotation to `to` done; its previous key is dropped unless `keepPrevious` (snapshots
   * hold blocks under it). `settle` drops a kept previous key of a done rotation. False when the
   * record's mark is not that rotation's (nothing written).
   */
  async finishDataKeyRotation(
    volume: string,
    to: string,
    doneAt: string,
    keepPrevious: boolean,
  ): Promise<boolean> {
    const stored = await this.readRecord(volume);
    const mark = stored?.mark;
    if (!stored || !mark || mark.to !== to) return false;
    const { previous, ...rest } = mark;
    const next: RotationMark = {
      ...rest,
      doneAt: mark.doneAt ?? doneAt,
      ...(keepPrevious && previous ? { previous } : {}),
    };
    await this.write(stored.secret, stored.record, next);
    return true;
  }

  private async write(secret: V1Secret, record: VolumeKeyRecord, mark: RotationMark): Promise<void> {
    await this.core.replaceNamespacedSecret({
      name: secret.metadata!.name!,
      namespace: this.namespace,
      // The read's resourceVersion guards it: a concurrent change makes this a 409.
      body: {
        ...secret,
        data: {
          ...secret.data,
          [RECORD_FIELD]: encode(record),
          [ROTATION_FIELD]: Buffer.from(JSON.stringify(mark)).toString('base64'),
        },
      },
    });
  }

  private async source(volume: Volume): Promise<{ source: KekSource; ctx: KeyContext }> {
    const name = volume.metadata.name;
    const ref = cryptoSecretRef(
      { name, ...(volume.metadata.annotations ? { annotations: volume.metadata.annotations } : {}) },
      await this.persistentVolume(volume),
    );
    if ('problem' in ref) throw new EncryptionKeyError(ref.problem);
    const sourceName = `crypto Secret ${ref.namespace}/${ref.name}`;
    const secret = await this.readSecret(ref);
    let source: KekSource;
    try {
      source = parseCryptoSecret(decodeSecretData(secret.data), sourceName);
    } catch (err) {
      throw new EncryptionKeyError(`volume ${name}: ${(err as Error).message}`);
    }
    const ctx: KeyContext = { volume: name, sourceName };
    if (source.provider === 'kms') ctx.kms = kmsClient(source);
    return { source, ctx };
  }

  private async readSecret(ref: SecretRef): Promise<V1Secret> {
    try {
      return await this.core.readNamespacedSecret({ name: ref.name, namespace: ref.namespace });
    } catch (err) {
      if (status(err) === 404)
        throw new EncryptionKeyError(
          `crypto Secret ${ref.namespace}/${ref.name} (named by ${ref.from}) not found`,
        );
      throw new EncryptionKeyError(
        `crypto Secret ${ref.namespace}/${ref.name} (named by ${ref.from}) cannot be read: ${(err as Error).message}`,
      );
    }
  }

  /** The volume's PersistentVolume when it is one of ours (status.kubernetesStatus.pvName, else the volume's name). */
  private async persistentVolume(volume: Volume) {
    const pvName = volume.status?.kubernetesStatus?.pvName || volume.metadata.name;
    let pv: V1PersistentVolume;
    try {
      pv = await this.core.readPersistentVolume({ name: pvName });
    } catch (err) {
      if (status(err) === 404) return undefined;
      throw err;
    }
    const csi = pv.spec?.csi;
    if (!csi || csi.driver !== CSI_DRIVER || csi.volumeHandle !== volume.metadata.name) return undefined;
    return {
      name: pvName,
      driver: csi.driver,
      volumeHandle: csi.volumeHandle,
      ...(csi.nodeStageSecretRef ? { nodeStageSecretRef: csi.nodeStageSecretRef } : {}),
      ...(csi.nodePublishSecretRef ? { nodePublishSecretRef: csi.nodePublishSecretRef } : {}),
      ...(csi.controllerPublishSecretRef
        ? { controllerPublishSecretRef: csi.controllerPublishSecretRef }
        : {}),
    };
  }

  private async readRecord(
    volume: string,
  ): Promise<{ record: VolumeKeyRecord; secret: V1Secret; mark?: RotationMark } | undefined> {
    const name = keyRecordSecretName(volume);
    let secret: V1Secret;
    try {
      secret = await this.core.readNamespacedSecret({ name, namespace: this.namespace });
    } catch (err) {
      if (status(err) === 404) return undefined;
      throw err;
    }
    const text = Buffer.from(secret.data?.[RECORD_FIELD] ?? '', 'base64').toString('utf8');
    const what = `key record Secret ${this.namespace}/${name}`;
    let record: VolumeKeyRecord;
    try {
      record = parseKeyRecord(text, what);
    } catch (err) {
      throw new EncryptionKeyError((err as Error).message);
    }
    const markText = secret.data?.[ROTATION_FIELD];
    if (markText === undefined) return { record, secret };
    return { record, secret, mark: parseMark(Buffer.from(markText, 'base64').toString('utf8'), what) };
  }

  /** Creates the record Secret; false when one exists already. */
  private async createRecord(volume: Volume, record: VolumeKeyRecord): Promise<boolean> {
    const body: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: {
        name: keyRecordSecretName(volume.metadata.name),
        namespace: this.namespace,
        labels: { [LABEL_VOLUME]: volume.metadata.name },
        ...(volume.metadata.uid
          ? {
              ownerReferences: [
                {
                  apiVersion: LONGHORN_API_VERSION,
                  kind: 'Volume',
                  name: volume.metadata.name,
                  uid: volume.metadata.uid,
                },
              ],
            }
          : {}),
      },
      data: { [RECORD_FIELD]: encode(record) },
    };
    try {
      await this.core.createNamespacedSecret({ namespace: this.namespace, body });
      return true;
    } catch (err) {
      if (status(err) === 409) return false;
      throw err;
    }
  }
}

function idOf(envelope: KeyEnvelope, kek: Buffer, volume: string): string {
  const key = unwrapDataKey(envelope, kek, `volume ${volume}`);
  try {
    return dataKeyId(key);
  } finally {
    key.fill(0);
  }
}

function parseMark(text: string, what: string): RotationMark {
  let mark: RotationMark;
  try {
    mark = JSON.parse(text) as RotationMark;
  } catch {
    throw new EncryptionKeyError(`${what}: ${ROTATION_FIELD} is not JSON`);
  }
  if (typeof mark?.from !== 'string' || typeof mark.to !== 'string' || typeof mark.node !== 'string')
    throw new EncryptionKeyError(`${what}: ${ROTATION_FIELD} is damaged`);
  return mark;
}

function encode(record: VolumeKeyRecord): string {
  return Buffer.from(JSON.stringify(record)).toString('base64');
}

function status(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

/** A refusal from the key layer (CryptError: wrong key, KMS refused...) becomes an EncryptionKeyError. */
/** Runs `f`, its CryptErrors as EncryptionKeyErrors (their message after `what: `, if given). */
async function guard<T>(f: () => Promise<T>, what?: string): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if ((err as Error).name === 'CryptError')
      throw new EncryptionKeyError(what ? `${what}: ${(err as Error).message}` : (err as Error).message);
    throw err;
  }
}
