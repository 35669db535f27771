/**
 * Volume clone (acted on by the new volume's owner, the node its clone tickets attach it to):
 * gathers the facts `cloneStep` (volume/volume-clone.ts) decides on and carries out its step:
 * cloneStatus writes, clone tickets on the source's and the new volume's VolumeAttachments, the
 * source snapshot of a `vol://` clone (a Snapshot CR the snapshot controller takes), the copy
 * through the new volume's engine (SnapshotClone, polled), and Events for the outcome.
 */

import {
  type Engine,
  LABEL_VOLUME,
  LONGHORN_API_VERSION,
  type Snapshot,
  type Volume,
  type VolumeAttachment,
  type VolumeCloneStatus,
} from '@longhorn-ts/api';
import type { Logger } from 'pino';
import { cloneKeyProblem } from '../encryption/backup-key-record.js';
import type { VolumeKeyStore } from '../encryption/volume-key-store.js';
import { recordVolumeEvent } from '../k8s/events.js';
import { KINDS } from '../k8s/kinds.js';
import type { ReconcileResult } from '../runtime/work-queue.js';
import { AttacherType } from '../volume/attachment-tickets.js';
import {
  type CloneFacts,
  cloneStep,
  cloneTargetOfTicket,
  cloneTicketId,
  type EngineCloneJob,
  parseDataSource,
  sourceSnapshotName,
} from '../volume/volume-clone.js';
import { type ControllerContext, isMine, nameOfKey } from './context.js';
import type { EngineController } from './engine-controller.js';

export const CLONE_CONTROLLER = 'volume-clone';

const DEFAULT_WAIT_MS = 2_000;

export class CloneController {
  private readonly log: Logger;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly engines: EngineController,
    /** Encrypted volumes' key records: a clone of one takes its source's. */
    private readonly keys?: Pick<VolumeKeyStore, 'adoptSourceRecord' | 'cloneSnapshotProblem'>,
  ) {
    this.log = ctx.log.child({ controller: CLONE_CONTROLLER });
    const ns = ctx.id.namespace;
    const key = (n: string) => `${ns}/${n}`;
    const d = ctx.dispatcher;
    d.watch<Volume>('Volume', CLONE_CONTROLLER, (v) => [
      ...(v.spec.dataSource ? [key(v.metadata.name)] : []),
      ...this.clonesOf(v.metadata.name).map(key),
    ]);
    d.watch<VolumeAttachment>('VolumeAttachment', CLONE_CONTROLLER, (va) =>
      Object.values(va.spec.attachmentTickets ?? {})
        .map((t) => cloneTargetOfTicket(t))
        .filter((n): n is string => n !== undefined)
        .map(key),
    );
    d.watch<Engine>('Engine', CLONE_CONTROLLER, (e) => {
      const v = e.spec.volumeName ?? '';
      return v ? [key(v), ...this.clonesOf(v).map(key)] : [];
    });
    d.watch<Snapshot>('Snapshot', CLONE_CONTROLLER, (s) => this.clonesOf(s.spec.volume).map(key));
  }

  /** Volumes being cloned from `source`. */
  private clonesOf(source: string): string[] {
    return this.ctx.caches.volumes
      .list(this.ctx.id.namespace)
      .filter((v) => {
        const ds = parseDataSource(v.spec.dataSource);
        return (
          typeof ds === 'object' && ds.sourceVolume === source && v.status?.cloneStatus?.state !== 'completed'
        );
      })
      .map((v) => v.metadata.name);
  }

  async reconcile(key: string): Promise<ReconcileResult | undefined> {
    const { ctx } = this;
    const ns = ctx.id.namespace;
    const name = nameOfKey(key);
    const volume = ctx.caches.volumes.get(name, ns);
    if (volume === undefined) {
      // The new volume is gone: its tickets on a source must not keep that attached.
      if (isMine(ctx, key, '', '')) await this.removeTicketEverywhere(cloneTicketId(name));
      return undefined;
    }
    if ((volume.status?.ownerID ?? '') !== ctx.id.node) return undefined;
    const log = this.log.child({ volume: name });
    const cs = volume.status?.cloneStatus;
    const ds = parseDataSource(volume.spec.dataSource);
    const sourceName = cs?.sourceVolume || (typeof ds === 'object' ? ds.sourceVolume : '');
    const snapshotName =
      cs?.snapshot || (typeof ds === 'object' ? (ds.snapshot ?? sourceSnapshotName(name)) : '');
    const ticketId = cloneTicketId(name);
    const source = sourceName ? ctx.caches.volumes.get(sourceName, ns) : undefined;
    const sourceVA = sourceName ? ctx.caches.volumeAttachments.get(sourceName, ns) : undefined;
    const targetVA = ctx.caches.volumeAttachments.get(name, ns);
    const snap = snapshotName ? ctx.caches.snapshots.get(snapshotName, ns) : undefined;
    const targetEngine = this.engineOf(name);
    const sourceEngine = sourceName ? this.engineOf(sourceName) : undefined;
    const ticketNode =
      targetVA?.spec.attachmentTickets?.[ticketId]?.nodeID ||
      sourceVA?.spec.attachmentTickets?.[ticketId]?.nodeID ||
      '';
    const service = targetEngine ? await this.engines.service(targetEngine) : undefined;
    const ready =
      service !== undefined &&
      volume.status?.state === 'attached' &&
      volume.status.currentNodeID === ctx.id.node &&
      ticketNode === ctx.id.node;
    let job: EngineCloneJob | undefined;
    if (ready && service) {
      job = await service.snapshotCloneStatus().catch((err: unknown) => {
        log.warn({ err: (err as Error).message }, 'engine clone status unavailable');
        return undefined;
      });
    }
    const facts: CloneFacts = {
      now: ctx.clock.now(),
      target: {
        name,
        ...(volume.spec.dataSource !== undefined && { dataSource: volume.spec.dataSource }),
        ...(cs !== undefined && { cloneStatus: cs }),
        deleting: volume.metadata.deletionTimestamp !== undefined,
        ready,
      },
      ...(source !== undefined && {
        source: {
          deleting: source.metadata.deletionTimestamp !== undefined,
          node: source.status?.currentNodeID ?? '',
        },
      }),
      ...(snap !== undefined && {
        snapshot: {
          volume: snap.spec.volume,
          readyToUse: snap.status?.readyToUse === true,
          error: snap.status?.error ?? '',
          taken: !!snap.status?.creationTime,
        },
      }),
      tickets: {
        source: sourceVA?.spec.attachmentTickets?.[ticketId] !== undefined,
        target: targetVA?.spec.attachmentTickets?.[ticketId] !== undefined,
      },
      ...(sourceEngine !== undefined && { sourceReplica: healthyReplica(sourceEngine) }),
      ...(job !== undefined && { job }),
    };
    if (facts.sourceReplica === undefined) delete facts.sourceReplica;
    const step = cloneStep(facts);

    switch (step.kind) {
      case 'none':
        return undefined;
      case 'release':
        await this.removeTicket(sourceName, ticketId);
        await this.removeTicket(name, ticketId);
        log.info({ state: cs?.state ?? '' }, 'clone tickets released');
        return undefined;
      case 'initiate':
        await this.writeCloneStatus(volume, step.status);
        recordVolumeEvent(
          this.ctx.events,
          volume,
          'Normal',
          'CloneInitiated',
          `cloning from ${volume.spec.dataSource}`,
        );
        log.info({ source: step.status.sourceVolume, snapshot: step.status.snapshot }, 'clone initiated');
        return undefined;
      case 'fail':
        return this.fail(volume, step.message, log);
      case 'addTickets': {
        // Before the new volume's engine first starts: an encrypted source's key record is its.
        const problem = await this.keysBeforeAttach(volume, source);
        if (problem) return this.fail(volume, problem, log);
        const node = ticketNode || source?.status?.currentNodeID || source?.spec.nodeID || ctx.id.node;
        await this.addTicket(sourceName, ticketId, node);
        await this.addTicket(name, ticketId, node);
        log.info({ node }, 'clone tickets filed');
        return { requeueAfterMs: DEFAULT_WAIT_MS };
      }
      case 'takeSnapshot':
        await this.createSnapshot(step.volume, step.name);
        log.info({ source: step.volume, snapshot: step.name }, 'source snapshot requested');
        return { requeueAfterMs: DEFAULT_WAIT_MS };
      case 'wait':
        return { requeueAfterMs: Math.max(200, step.pollMs ?? DEFAULT_WAIT_MS) };
      case 'startClone': {
        if (source?.spec.encrypted === true) {
          const problem = this.keys
            ? await this.keys.cloneSnapshotProblem(sourceName, step.snapshot, snap?.status?.creationTime)
            : 'no key store';
          if (problem) return this.fail(volume, problem, log);
        }
        await this.writeCloneStatus(volume, step.status);
        try {
          await service!.snapshotClone({
            fromAddress: step.fromAddress,
            fromReplicaId: step.fromReplicaId,
            snapshot: step.snapshot,
            layer: step.layer,
            bandwidthLimit: 0,
          });
          log.info(
            { from: step.fromAddress, replica: step.fromReplicaId, attempt: step.status.attemptCount },
            'copy started',
          );
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'copy could not be started');
        }
        return { requeueAfterMs: 1_000 };
      }
      case 'complete':
        await this.writeCloneStatus(volume, { ...cs, state: 'completed' });
        recordVolumeEvent(
          this.ctx.events,
          volume,
          'Normal',
          'CloneCompleted',
          `cloned from ${volume.spec.dataSource} (snapshot ${snapshotName})`,
        );
        log.info('clone completed');
        return undefined;
    }
  }

  private engineOf(volume: string): Engine | undefined {
    return this.ctx.caches.engines
      .list(this.ctx.id.namespace)
      .find((e) => e.spec.volumeName === volume && e.metadata.deletionTimestamp === undefined);
  }

  private async fail(volume: Volume, message: string, log: Logger): Promise<undefined> {
    await this.writeCloneStatus(volume, { ...volume.status?.cloneStatus, state: 'failed' });
    recordVolumeEvent(this.ctx.events, volume, 'Warning', 'CloneFailed', message);
    log.warn({ reason: message }, 'clone failed');
    return undefined;
  }

  /**
   * Why `volume` cannot be cloned from `source` for its keys, or null: a clone copies the
   * source's ciphertext, so an encrypted source goes only into an encrypted volume, which takes
   * the source's key record (checked against its own crypto Secret) before its engine starts.
   */
  private async keysBeforeAttach(volume: Volume, source: Volume | undefined): Promise<string | null> {
    if (!source) return null;
    const problem = cloneKeyProblem(
      { name: volume.metadata.name, encrypted: volume.spec.encrypted === true },
      { name: source.metadata.name, encrypted: source.spec.encrypted === true },
    );
    if (problem || source.spec.encrypted !== true) return problem;
    if (!this.keys) return `volume ${volume.metadata.name} is encrypted, and this operator has no key store`;
    try {
      await this.keys.adoptSourceRecord(volume, source.metadata.name);
    } catch (err) {
      if ((err as Error).name === 'EncryptionKeyError') return (err as Error).message;
      throw err;
    }
    return null;
  }

  private async writeCloneStatus(volume: Volume, cloneStatus: VolumeCloneStatus): Promise<void> {
    await this.ctx.client.patchStatus(KINDS.volume, volume, { cloneStatus });
  }

  private async addTicket(volume: string, id: string, nodeID: string): Promise<void> {
    const va = this.ctx.caches.volumeAttachments.get(volume, this.ctx.id.namespace);
    if (va === undefined || va.spec.attachmentTickets?.[id] !== undefined) return;
    await this.ctx.client.patch(KINDS.volumeAttachment, va.metadata.name, {
      spec: {
        attachmentTickets: {
          [id]: {
            id,
            type: AttacherType.volumeCloneController,
            nodeID,
            parameters: { disableFrontend: 'any' },
            generation: 0,
          },
        },
      },
    });
  }

  private async removeTicket(volume: string, id: string): Promise<void> {
    if (!volume) return;
    const va = this.ctx.caches.volumeAttachments.get(volume, this.ctx.id.namespace);
    if (va?.spec.attachmentTickets?.[id] === undefined) return;
    await this.ctx.client.patch(KINDS.volumeAttachment, va.metadata.name, {
      spec: { attachmentTickets: { [id]: null } },
    });
  }

  private async removeTicketEverywhere(id: string): Promise<void> {
    for (const va of this.ctx.caches.volumeAttachments.list(this.ctx.id.namespace)) {
      if (va.spec.attachmentTickets?.[id] !== undefined) await this.removeTicket(va.metadata.name, id);
    }
  }

  private async createSnapshot(volume: string, name: string): Promise<void> {
    const body: Snapshot = {
      apiVersion: LONGHORN_API_VERSION,
      kind: 'Snapshot',
      metadata: { name, namespace: this.ctx.id.namespace, labels: { [LABEL_VOLUME]: volume } },
      spec: { volume, createSnapshot: true },
    };
    try {
      await this.ctx.client.create(KINDS.snapshot, body);
    } catch (err) {
      if ((err as { status?: number }).status !== 409) throw err;
    }
  }
}

/** A replica the source's running engine reads from (RW), at the address the engine reaches it. */
export function healthyReplica(e: Engine): { address: string; id: string } | undefined {
  if (e.status?.currentState !== 'running') return undefined;
  const modes = e.status.replicaModeMap ?? {};
  const addresses = { ...(e.spec.replicaAddressMap ?? {}), ...(e.status.currentReplicaAddressMap ?? {}) };
  const id = Object.keys(modes)
    .sort()
    .find((r) => modes[r] === 'RW' && addresses[r]);
  return id === undefined ? undefined : { id, address: addresses[id]! };
}
