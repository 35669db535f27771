/**
 * Volume (acted on by its owner, status.ownerID, per ownership.ts): turns the VolumeAttachment's
 * tickets into spec.nodeID, runs the pure state machine `next` over the Volume, its Engine and
 * Replicas, carries out the actions (Replica and Engine CR writes; new replicas placed by the
 * replica scheduler, its failure in the Scheduled condition), and writes the Volume's and the
 * VolumeAttachment's status with resourceVersion. status.ownerID, written with resourceVersion,
 * is the lock: two operators never act on one volume at once.
 */

import { randomBytes } from 'node:crypto';
import {
  type Engine,
  engineLabels,
  hasLonghornFinalizer,
  LONGHORN_API_VERSION,
  type Replica,
  replicaLabels,
  sameQos,
  type Volume,
  type VolumeAttachment,
  type VolumeStatus,
  withLonghornFinalizer,
  withoutLonghornFinalizer,
} from '@longhorn-ts/api';
import type { Logger } from 'pino';
import { type Condition, rfc3339, setCondition } from '../conditions.js';
import { encryptionKeyCondition } from '../encryption/encryption-condition.js';
import { parseEngineKeys } from '../encryption/engine-keys-note.js';
import { recordVolumeEvent } from '../k8s/events.js';
import { KINDS } from '../k8s/kinds.js';
import type { ReconcileResult } from '../runtime/work-queue.js';
import { scheduleReplicas } from '../scheduler/replica-scheduler.js';
import { decideAttachment, ticketStatuses } from '../volume/attachment-tickets.js';
import { heldForClone, ticketsWhileHeld } from '../volume/volume-clone.js';
import type { NextResult } from '../volume/volume-model.js';
import { heldForRestore, ticketsWhileRestoring } from '../volume/volume-restore.js';
import { next } from '../volume/volume-state.js';
import { type ControllerContext, isMine, nameOfKey } from './context.js';
import { qosMergePatch } from './engine-qos.js';
import { engineNeedsSalvage } from './engine-status.js';
import { Expectations } from './expectations.js';
import { sameJson } from './same-json.js';
import { planWrites } from './volume-actions.js';
import {
  rebuildsPerNode,
  replicaNodeFacts,
  ticketsOf,
  toAttachVolume,
  toEngineView,
  toReplicaView,
  toSchedNode,
  toSchedReplica,
  toSchedVolume,
  toVolumeView,
  volumeSpecProblem,
} from './volume-views.js';

export const VOLUME_CONTROLLER = 'volume';

const suffix = () => randomBytes(4).toString('hex');

export function volumeOf(obj: { spec: { volumeName?: string } }): string {
  return obj.spec.volumeName ?? '';
}

export class VolumeController {
  private readonly log: Logger;
  private readonly expectations = new Expectations();

  constructor(private readonly ctx: ControllerContext) {
    this.log = ctx.log.child({ controller: VOLUME_CONTROLLER });
    const ns = ctx.id.namespace;
    const d = ctx.dispatcher;
    d.watch<Volume>('Volume', VOLUME_CONTROLLER, (v) => [`${ns}/${v.metadata.name}`]);
    d.watch<Engine>('Engine', VOLUME_CONTROLLER, (e) => (volumeOf(e) ? [`${ns}/${volumeOf(e)}`] : []));
    d.watch<Replica>('Replica', VOLUME_CONTROLLER, (r) => (volumeOf(r) ? [`${ns}/${volumeOf(r)}`] : []));
    d.watch<VolumeAttachment>('VolumeAttachment', VOLUME_CONTROLLER, (va) => [
      `${ns}/${va.spec.volume || va.metadata.name}`,
    ]);
    d.watch('Setting', VOLUME_CONTROLLER, () => this.allKeys());
    d.watch('Node', VOLUME_CONTROLLER, () => this.allKeys());
  }

  allKeys(): string[] {
    return this.ctx.caches.volumes
      .list(this.ctx.id.namespace)
      .map((v) => `${this.ctx.id.namespace}/${v.metadata.name}`);
  }

  async reconcile(key: string): Promise<ReconcileResult | undefined> {
    const { ctx } = this;
    const ns = ctx.id.namespace;
    const name = nameOfKey(key);
    const volume = ctx.caches.volumes.get(name, ns);
    if (volume === undefined) {
      this.expectations.forget(name);
      return undefined;
    }
    const log = this.log.child({ volume: name });
    const status = volume.status ?? {};

    // Ownership: the preferred owner is the node it is attached to; the write is the lock.
    const ownerID = status.ownerID ?? '';
    if (!isMine(ctx, key, volume.spec.nodeID ?? '', ownerID)) return undefined;
    if (ownerID !== ctx.id.node) {
      await ctx.client.patchStatus(KINDS.volume, volume, { ownerID: ctx.id.node });
      log.info({ from: ownerID }, 'took ownership of the volume');
      return undefined;
    }

    const deleting = volume.metadata.deletionTimestamp !== undefined;
    if (deleting && !hasLonghornFinalizer(volume.metadata)) return undefined;
    if (!deleting && !hasLonghornFinalizer(volume.metadata)) {
      await ctx.client.patch(
        KINDS.volume,
        name,
        { metadata: { finalizers: withLonghornFinalizer(volume.metadata.finalizers) } },
        volume.metadata.resourceVersion,
      );
      return undefined;
    }

    const now = ctx.clock.now();
    const exists = (kind: string, n: string) => {
      const cache = kind === 'Engine' ? ctx.caches.engines : ctx.caches.replicas;
      const o = cache.get(n, ns);
      return o !== undefined && o.metadata.deletionTimestamp === undefined;
    };
    if (!this.expectations.satisfied(name, now, exists)) return { requeueAfterMs: 200 };

    const problem = deleting ? undefined : volumeSpecProblem(volume);
    if (problem !== undefined) {
      await this.reportInvalid(volume, problem);
      return undefined;
    }

    // Tickets -> spec.nodeID (the VolumeAttachment is made if missing, as Longhorn does).
    let va = ctx.caches.volumeAttachments.get(name, ns);
    if (va === undefined && !deleting) {
      va = await this.createAttachment(volume);
    }
    // A volume being cloned is held: only its clone tickets attach it until the copy is complete;
    // one restoring from a backup (or a standby one) only by its restore ticket.
    const tickets = ticketsWhileRestoring(
      ticketsWhileHeld(ticketsOf(va), heldForClone(volume)),
      heldForRestore(volume),
    );
    if (!deleting) {
      const decision = decideAttachment(tickets, toAttachVolume(volume));
      const d = decision.desired;
      if (
        d.nodeID !== (volume.spec.nodeID ?? '') ||
        d.disableFrontend !== (volume.spec.disableFrontend ?? false) ||
        d.lastAttachedBy !== (volume.spec.lastAttachedBy ?? '')
      ) {
        log.info(
          { nodeID: d.nodeID, because: decision.detachedBecause ?? decision.attachedFor?.id },
          d.nodeID === '' ? 'detach requested' : 'attach requested',
        );
        await ctx.client.patch(
          KINDS.volume,
          name,
          {
            spec: { nodeID: d.nodeID, disableFrontend: d.disableFrontend, lastAttachedBy: d.lastAttachedBy },
          },
          volume.metadata.resourceVersion,
        );
        return undefined;
      }
    }

    if (deleting) {
      // Its snapshots go with it (their data goes with the replicas).
      for (const snap of ctx.caches.snapshots.list(ns)) {
        if (snap.spec.volume === name && snap.metadata.deletionTimestamp === undefined) {
          await ctx.client.delete(KINDS.snapshot, snap.metadata.name);
        }
      }
    }

    const engines = ctx.caches.engines.list(ns).filter((e) => volumeOf(e) === name);
    const engine = engines.find((e) => e.metadata.deletionTimestamp === undefined) ?? engines[0];
    const replicas = ctx.caches.replicas.list(ns).filter((r) => volumeOf(r) === name);
    if (
      !deleting &&
      engine !== undefined &&
      !engine.spec.salvageRequested &&
      engineNeedsSalvage(engine.status)
    ) {
      // Every replica the engine could reach is behind what it last committed (all of them
      // went away at once): that is "all replicas failed", and auto-salvage takes it from here.
      const at = rfc3339(now);
      const healthy = replicas.filter(
        (r) => r.spec.nodeID && !r.spec.failedAt && r.metadata.deletionTimestamp === undefined,
      );
      if (healthy.length > 0) {
        for (const r of healthy) {
          await ctx.client.patch(KINDS.replica, r.metadata.name, {
            spec: { failedAt: at, lastFailedAt: at },
          });
        }
        log.warn(
          { replicas: healthy.map((r) => r.metadata.name) },
          'engine refused its replicas: marked failed for auto-salvage',
        );
        return { requeueAfterMs: 500 };
      }
    }
    const defaults = { replicas: ctx.settings.get('default-replica-count') };
    const live = ctx.liveness.live();
    const nodeOf = (n: string) => ctx.caches.nodes.get(n, ns);

    const result = next(toVolumeView(volume, defaults), {
      now,
      ...(engine !== undefined && {
        engine: toEngineView(
          engine,
          engine.spec.nodeID
            ? !live.has(engine.spec.nodeID)
            : engine.status?.ownerID
              ? !live.has(engine.status.ownerID)
              : false,
        ),
      }),
      replicas: replicas.map((r) =>
        toReplicaView(r, replicaNodeFacts(r, nodeOf(r.spec.nodeID ?? ''), live.has(r.spec.nodeID ?? ''))),
      ),
      settings: ctx.settings.volume(),
      rebuildsPerNode: rebuildsPerNode(ctx.caches.engines.list(ns), ctx.caches.replicas.list(ns)),
    });

    const scheduled = await this.apply(volume, engine, replicas, result, log);
    if (result.actions.some((a) => a.kind === 'removeFinalizer')) return undefined;

    await this.writeStatus(volume, engine, replicas, result, scheduled);
    if (va !== undefined) await this.writeTicketStatuses(va, volume, result);
    for (const ev of result.events) {
      recordVolumeEvent(ctx.events, volume, ev.type, ev.reason, ev.message);
    }
    return result.requeueAfterMs === undefined ? undefined : { requeueAfterMs: result.requeueAfterMs };
  }

  private async createAttachment(volume: Volume): Promise<VolumeAttachment | undefined> {
    const body: VolumeAttachment = {
      apiVersion: LONGHORN_API_VERSION,
      kind: 'VolumeAttachment',
      metadata: {
        name: volume.metadata.name,
        namespace: this.ctx.id.namespace,
        labels: { longhornvolume: volume.metadata.name },
      },
      spec: { attachmentTickets: {}, volume: volume.metadata.name },
    };
    try {
      return await this.ctx.client.create(KINDS.volumeAttachment, body);
    } catch (err) {
      if ((err as { status?: number }).status !== 409) throw err;
      return undefined;
    }
  }

  /** Carry out the pass's actions; returns the Scheduled condition's verdict. */
  private async apply(
    volume: Volume,
    engine: Engine | undefined,
    replicas: Replica[],
    result: NextResult,
    log: Logger,
  ): Promise<{ ok: boolean; reason: string }> {
    const { ctx } = this;
    const name = volume.metadata.name;
    const now = ctx.clock.now();
    const w = planWrites(result.actions, engine?.spec.replicaAddressMap ?? {});

    if (w.createEngine && engine === undefined) {
      const engineName = `${name}-e-0`;
      const body: Engine = {
        apiVersion: LONGHORN_API_VERSION,
        kind: 'Engine',
        metadata: {
          name: engineName,
          namespace: ctx.id.namespace,
          labels: engineLabels(name, ''),
          finalizers: withLonghornFinalizer(),
        },
        spec: {
          volumeName: name,
          volumeSize: volume.spec.size ?? '0',
          nodeID: '',
          desireState: 'stopped',
          frontend: volume.spec.frontend || 'blockdev',
          disableFrontend: false,
          replicaAddressMap: {},
          dataEngine: 'v1',
          image: '',
          ...(volume.spec.qos ? { qos: volume.spec.qos } : {}),
        },
      };
      this.expectations.expect(name, 'Engine', engineName, 'create', now);
      await ctx.client.create(KINDS.engine, body);
      log.info({ engine: engineName }, 'engine created');
    }
    if (w.deleteEngine && engine !== undefined) {
      this.expectations.expect(name, 'Engine', engine.metadata.name, 'delete', now);
      await ctx.client.delete(KINDS.engine, engine.metadata.name);
      log.info({ engine: engine.metadata.name }, 'engine deleted');
    }
    if (w.engine !== undefined && engine !== undefined && !w.deleteEngine) {
      const spec: Record<string, unknown> = { ...w.engine };
      if (spec.nodeID !== undefined) {
        await ctx.client.patch(KINDS.engine, engine.metadata.name, {
          metadata: { labels: engineLabels(name, String(spec.nodeID)) },
          spec,
        });
      } else {
        await ctx.client.patch(KINDS.engine, engine.metadata.name, { spec });
      }
    }
    // Expansion: the engine grows when its spec does.
    if (engine !== undefined && !w.deleteEngine && engine.spec.volumeSize !== volume.spec.size) {
      if (Number(volume.spec.size) > Number(engine.spec.volumeSize ?? '0')) {
        await ctx.client.patch(KINDS.engine, engine.metadata.name, {
          spec: { volumeSize: volume.spec.size },
        });
        for (const r of replicas) {
          if (r.metadata.deletionTimestamp === undefined)
            await ctx.client.patch(KINDS.replica, r.metadata.name, {
              spec: { volumeSize: volume.spec.size },
            });
        }
      }
    }

    // QoS: the engine follows the volume's limits (its operator applies them online).
    if (engine !== undefined && !w.deleteEngine && !sameQos(engine.spec.qos, volume.spec.qos)) {
      await ctx.client.patch(KINDS.engine, engine.metadata.name, {
        spec: { qos: qosMergePatch(engine.spec.qos, volume.spec.qos) },
      });
    }

    for (const [replicaName, spec] of w.replicas) {
      await ctx.client.patch(KINDS.replica, replicaName, { spec });
    }
    for (const d of w.deleteReplicas) {
      this.expectations.expect(name, 'Replica', d.name, 'delete', now);
      await ctx.client.delete(KINDS.replica, d.name);
      log.info({ replica: d.name, reason: d.reason }, 'replica deleted');
    }

    const verdict = await this.scheduleNew(volume, replicas, w.createReplicas, log);

    if (w.removeFinalizer) {
      await ctx.client.delete(KINDS.volumeAttachment, name);
      await ctx.client.patch(
        KINDS.volume,
        name,
        { metadata: { finalizers: withoutLonghornFinalizer(volume.metadata.finalizers) } },
        volume.metadata.resourceVersion,
      );
      this.expectations.forget(name);
      log.info('volume deleted: engine, replicas and data are gone');
    }
    return verdict;
  }

  /**
   * Place the new replicas (and retry the ones that could not be placed before) with the
   * replica scheduler. A replica that cannot be placed is still created, unscheduled, so the
   * volume shows it; the reason goes into the Scheduled condition.
   */
  private async scheduleNew(
    volume: Volume,
    replicas: Replica[],
    creates: Array<{ hardNodeAffinity: string; rebuild: boolean }>,
    log: Logger,
  ): Promise<{ ok: boolean; reason: string }> {
    const { ctx } = this;
    const ns = ctx.id.namespace;
    const name = volume.metadata.name;
    const now = ctx.clock.now();
    const defaults = { replicas: ctx.settings.get('default-replica-count') };
    const live = ctx.liveness.live();
    const nodes = ctx.caches.nodes.list(ns).map((n) => toSchedNode(n, live.has(n.metadata.name)));
    const schedVolume = toSchedVolume(volume, defaults);
    const existing = replicas.map(toSchedReplica);
    const settings = ctx.settings.sched();
    const strictLocal = volume.spec.dataLocality === 'strict-local' ? (volume.spec.nodeID ?? '') : '';
    const localNodeID =
      volume.spec.dataLocality === 'best-effort' ? (volume.status?.currentNodeID ?? '') : '';
    let verdict = { ok: true, reason: '' };

    // Unscheduled replicas from earlier passes first.
    for (const r of replicas) {
      if (r.spec.nodeID || r.metadata.deletionTimestamp !== undefined) continue;
      const affinity = r.spec.hardNodeAffinity || strictLocal;
      const res = scheduleReplicas({
        volume: schedVolume,
        nodes,
        replicas: existing.filter((x) => x.name !== r.metadata.name),
        count: 1,
        settings,
        ...(affinity !== '' && { hardNodeAffinity: affinity }),
        ...(localNodeID !== '' && { localNodeID }),
        replacingFailed: true,
      });
      const p = res.placements[0];
      if (p === undefined) {
        verdict = { ok: false, reason: res.ok ? '' : res.reason };
        continue;
      }
      await ctx.client.patch(KINDS.replica, r.metadata.name, {
        metadata: { labels: replicaLabels(name, p.nodeID, p.diskID) },
        spec: { nodeID: p.nodeID, diskID: p.diskID, diskPath: p.diskPath },
      });
      existing.push({ ...toSchedReplica(r), nodeID: p.nodeID, diskID: p.diskID });
      log.info({ replica: r.metadata.name, node: p.nodeID }, 'replica scheduled');
    }

    for (const c of creates) {
      const affinity = c.hardNodeAffinity || strictLocal;
      const res = scheduleReplicas({
        volume: schedVolume,
        nodes,
        replicas: existing,
        count: 1,
        settings,
        ...(affinity !== '' && { hardNodeAffinity: affinity }),
        ...(localNodeID !== '' && { localNodeID }),
        replacingFailed: c.rebuild,
      });
      const p = res.placements[0];
      if (!res.ok) verdict = { ok: false, reason: res.reason };
      const replicaName = `${name}-r-${suffix()}`;
      const body: Replica = {
        apiVersion: LONGHORN_API_VERSION,
        kind: 'Replica',
        metadata: {
          name: replicaName,
          namespace: ns,
          labels: replicaLabels(name, p?.nodeID ?? '', p?.diskID ?? ''),
          finalizers: withLonghornFinalizer(),
        },
        spec: {
          volumeName: name,
          volumeSize: volume.spec.size ?? '0',
          nodeID: p?.nodeID ?? '',
          diskID: p?.diskID ?? '',
          diskPath: p?.diskPath ?? '',
          dataDirectoryName: replicaName,
          hardNodeAffinity: c.hardNodeAffinity,
          desireState: 'stopped',
          engineName: `${name}-e-0`,
          active: true,
          dataEngine: 'v1',
          image: '',
          healthyAt: '',
          lastHealthyAt: '',
          failedAt: '',
          lastFailedAt: '',
          rebuildRetryCount: 0,
          revisionCounterDisabled: volume.spec.revisionCounterDisabled ?? false,
        },
      };
      this.expectations.expect(name, 'Replica', replicaName, 'create', now);
      await ctx.client.create(KINDS.replica, body);
      existing.push(toSchedReplica(body));
      log.info(
        { replica: replicaName, node: p?.nodeID ?? '', reason: res.ok ? undefined : res.reason },
        'replica created',
      );
    }
    return verdict;
  }

  private async writeStatus(
    volume: Volume,
    engine: Engine | undefined,
    replicas: Replica[],
    result: NextResult,
    scheduled: { ok: boolean; reason: string },
  ): Promise<void> {
    const prev = volume.status ?? {};
    const now = rfc3339(this.ctx.clock.now());
    const unscheduled = replicas.filter(
      (r) => !r.spec.nodeID && r.metadata.deletionTimestamp === undefined,
    ).length;
    let conditions = (prev.conditions ?? []) as Condition[];
    if (!scheduled.ok) {
      conditions = setCondition(
        conditions,
        'Scheduled',
        'False',
        'ReplicaSchedulingFailure',
        scheduled.reason,
        now,
      );
    } else if (unscheduled === 0) {
      conditions = setCondition(conditions, 'Scheduled', 'True', '', '', now);
    }
    if (volume.spec.encrypted === true)
      conditions = encryptionKeyCondition(
        conditions,
        engine?.status,
        now,
        parseEngineKeys(engine?.metadata.annotations),
      );
    const s = result.status;
    const status: VolumeStatus = {
      ...prev,
      ownerID: this.ctx.id.node,
      state: s.state,
      robustness: s.robustness,
      currentNodeID: s.currentNodeID,
      lastDegradedAt: s.lastDegradedAt,
      remountRequestedAt: s.remountRequestedAt,
      lastAutoSalvagedAt: s.lastAutoSalvagedAt,
      frontendDisabled: s.frontendDisabled,
      conditions,
      actualSize: actualSizeOf(engine) ?? prev.actualSize ?? 0,
      currentImage: '',
      ...(engine?.status?.qos ? { qos: engine.status.qos } : {}),
    };
    if (sameJson(status, prev)) return;
    await this.ctx.client.patchStatus(KINDS.volume, volume, status);
  }

  private async writeTicketStatuses(va: VolumeAttachment, volume: Volume, result: NextResult): Promise<void> {
    const now = rfc3339(this.ctx.clock.now());
    const previous: Record<
      string,
      { id: string; satisfied: boolean; conditions: Condition[]; generation: number }
    > = {};
    for (const [id, s] of Object.entries(va.status?.attachmentTicketStatuses ?? {})) {
      previous[id] = {
        id: s.id ?? id,
        satisfied: s.satisfied,
        conditions: (s.conditions ?? []) as Condition[],
        generation: s.generation ?? 0,
      };
    }
    const statuses = ticketStatuses(
      ticketsOf(va),
      previous,
      toAttachVolume(volume, {
        state: result.status.state,
        currentNodeID: result.status.currentNodeID,
        robustness: result.status.robustness,
      }),
      now,
    );
    if (sameJson(statuses, va.status?.attachmentTicketStatuses ?? {})) return;
    try {
      await this.ctx.client.replaceStatus(KINDS.volumeAttachment, va, { attachmentTicketStatuses: statuses });
    } catch (err) {
      // The VolumeAttachment changed meanwhile: its event brings the volume back here.
      if ((err as { status?: number }).status !== 409) throw err;
    }
  }

  private async reportInvalid(volume: Volume, problem: string): Promise<void> {
    const { ctx } = this;
    recordVolumeEvent(ctx.events, volume, 'Warning', 'InvalidVolume', problem);
    const now = rfc3339(ctx.clock.now());
    const conditions = setCondition(
      (volume.status?.conditions ?? []) as Condition[],
      'Scheduled',
      'False',
      'InvalidVolume',
      problem,
      now,
    );
    if (sameJson(conditions, volume.status?.conditions ?? [])) return;
    await ctx.client.patchStatus(KINDS.volume, volume, {
      ownerID: ctx.id.node,
      conditions,
      state: volume.status?.state || 'creating',
    });
  }
}

/** Bytes the volume occupies on a replica: the engine's layers, volume-head included. */
export function actualSizeOf(engine: Engine | undefined): number | undefined {
  const snaps = engine?.status?.snapshots;
  if (snaps === undefined) return undefined;
  let total = 0;
  for (const s of Object.values(snaps)) if (!s.removed) total += Number(s.size ?? '0') || 0;
  return total;
}
