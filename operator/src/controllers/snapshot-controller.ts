/**
 * Snapshot (acted on by the operator where the volume's engine runs): a Snapshot CR with
 * createSnapshot true is taken through the engine service; status follows the engine's view
 * (parent, children, size, creationTime, readyToUse); deleting the CR deletes the snapshot and
 * purges. Snapshots the engine reports that have no CR (user-created through the engine, or the
 * system snapshots of rebuilds and expansions) get one, as Longhorn does; a CR whose snapshot
 * the engine no longer has (purged) goes.
 */

import {
  type Engine,
  LABEL_VOLUME,
  LONGHORN_API_VERSION,
  type Snapshot,
  type SnapshotStatus,
  withLonghornFinalizer,
  withoutLonghornFinalizer,
} from '@longhorn-ts/api';
import type { SnapshotView } from '@longhorn-ts/dataplane/engine/engine-client';
import type { Logger } from 'pino';
import { KINDS } from '../k8s/kinds.js';
import type { ReconcileResult } from '../runtime/work-queue.js';
import { type ControllerContext, isMine, nameOfKey } from './context.js';
import type { EngineController } from './engine-controller.js';
import { sameJson } from './same-json.js';

export const SNAPSHOT_CONTROLLER = 'snapshot';
const ENGINE_KEY = 'engine:';
/** How long a deleted snapshot is not adopted again (well above the engine monitor's period). */
const RECENTLY_DELETED_MS = 60_000;
const DNS_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** Snapshot status from what the engine reports of it (pure). */
export function snapshotStatus(
  prev: SnapshotStatus | undefined,
  view: SnapshotView | undefined,
  facts: { node: string; volumeSize: number; head: string; error?: string },
): SnapshotStatus {
  if (view === undefined) {
    return {
      ...prev,
      ownerID: facts.node,
      readyToUse: false,
      error: facts.error ?? prev?.error ?? '',
    };
  }
  const children: Record<string, boolean> = {};
  for (const c of view.children) children[c === facts.head ? 'volume-head' : c] = true;
  return {
    ...prev,
    ownerID: facts.node,
    parent: view.parent,
    children,
    markRemoved: view.removed,
    userCreated: view.userCreated,
    creationTime: view.created,
    size: view.allocatedBytes,
    labels: view.labels ?? {},
    restoreSize: prev?.restoreSize || facts.volumeSize,
    readyToUse: !view.removed,
    error: facts.error ?? '',
  };
}

/** Engine snapshots (the head excluded) that should have a CR and do not. */
export function snapshotsToAdopt(
  engineSnapshots: Readonly<Record<string, { removed?: boolean }>>,
  existing: ReadonlySet<string>,
): string[] {
  return Object.keys(engineSnapshots)
    .filter(
      (n) => n !== 'volume-head' && !existing.has(n) && !engineSnapshots[n]?.removed && DNS_NAME.test(n),
    )
    .sort();
}

export class SnapshotController {
  private readonly log: Logger;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly engines: EngineController,
  ) {
    this.log = ctx.log.child({ controller: SNAPSHOT_CONTROLLER });
    const ns = ctx.id.namespace;
    ctx.dispatcher.watch<Snapshot>('Snapshot', SNAPSHOT_CONTROLLER, (s) => [`${ns}/${s.metadata.name}`]);
    // An engine on this node that changes (e.g. it turns running after an attach) also brings
    // back the volume's pending Snapshot CRs: one asked for, or deleted, while no engine ran here
    // was otherwise looked at again only when the CR itself changed.
    ctx.dispatcher.watch<Engine>('Engine', SNAPSHOT_CONTROLLER, (e) =>
      e.spec.nodeID === ctx.id.node
        ? [
            `${ENGINE_KEY}${e.metadata.name}`,
            ...ctx.caches.snapshots
              .list(ns)
              .filter(
                (s) =>
                  s.spec.volume === e.spec.volumeName &&
                  (s.metadata.deletionTimestamp !== undefined || s.status?.readyToUse !== true),
              )
              .map((s) => `${ns}/${s.metadata.name}`),
          ]
        : [],
    );
  }

  async reconcile(key: string): Promise<ReconcileResult | undefined> {
    if (key.startsWith(ENGINE_KEY)) return this.adopt(key.slice(ENGINE_KEY.length));
    const { ctx } = this;
    const ns = ctx.id.namespace;
    const snap = ctx.caches.snapshots.get(nameOfKey(key), ns);
    if (snap === undefined) return undefined;
    const volumeName = snap.spec.volume;
    const volume = ctx.caches.volumes.get(volumeName, ns);
    const engine = this.engineOf(volumeName);
    const deleting = snap.metadata.deletionTimestamp !== undefined;
    const log = this.log.child({ snapshot: snap.metadata.name, volume: volumeName });

    const runningHere =
      engine !== undefined && engine.spec.nodeID === ctx.id.node && engine.status?.currentState === 'running';
    if (!runningHere) {
      // Nobody can act on the data: a snapshot of a volume that is gone just goes.
      const volumeGone = volume === undefined || volume.metadata.deletionTimestamp !== undefined;
      if (deleting && volumeGone && isMine(ctx, key, '', '')) await this.dropFinalizer(snap);
      else if (
        !deleting &&
        volume === undefined &&
        isMine(ctx, key, '', '') &&
        snap.status?.error !== `volume ${volumeName} not found`
      ) {
        await ctx.client.patchStatus(KINDS.snapshot, snap, {
          readyToUse: false,
          error: `volume ${volumeName} not found`,
        });
      }
      return undefined;
    }
    const service = await this.engines.service(engine);
    if (service === undefined) return { requeueAfterMs: 2_000 };

    if (deleting) {
      try {
        await service.snapshotDelete(snap.metadata.name);
        await service.snapshotPurge();
        log.info('snapshot deleted and purged');
      } catch (err) {
        const msg = (err as Error).message;
        if (!/not found|no snapshot|NOT_FOUND/i.test(msg)) throw err;
      }
      await this.dropFinalizer(snap);
      return undefined;
    }
    if (
      !(snap.metadata.finalizers ?? []).includes('longhorn.io') ||
      snap.metadata.labels?.[LABEL_VOLUME] !== volumeName
    ) {
      await ctx.client.patch(
        KINDS.snapshot,
        snap.metadata.name,
        {
          metadata: {
            finalizers: withLonghornFinalizer(snap.metadata.finalizers),
            labels: { [LABEL_VOLUME]: volumeName },
          },
        },
        snap.metadata.resourceVersion,
      );
      return undefined;
    }

    let list = await service.snapshotList();
    let view = list.find((s) => s.name === snap.metadata.name && !s.head);
    let error: string | undefined;
    if (view === undefined && snap.spec.createSnapshot === true && !snap.status?.creationTime) {
      try {
        await service.snapshotCreate(snap.metadata.name, snap.spec.labels ?? {});
        log.info('snapshot created');
        list = await service.snapshotList();
        view = list.find((s) => s.name === snap.metadata.name && !s.head);
      } catch (err) {
        error = `snapshot could not be taken: ${(err as Error).message}`;
        log.warn({ err: error }, 'snapshot failed');
      }
    } else if (view === undefined) {
      error = snap.status?.creationTime
        ? `snapshot ${snap.metadata.name} no longer exists in volume ${volumeName}`
        : `snapshot ${snap.metadata.name} not found in volume ${volumeName}`;
    }
    const head = list.find((s) => s.head)?.name ?? '';
    const status = snapshotStatus(snap.status, view, {
      node: ctx.id.node,
      volumeSize: Number(volume?.spec.size ?? '0'),
      head,
      ...(error !== undefined && { error }),
    });
    if (status.requestedTime === undefined && snap.spec.createSnapshot)
      status.requestedTime = snap.metadata.creationTimestamp ?? '';
    if (!sameJson(status, snap.status ?? {})) {
      await ctx.client.replaceStatus(KINDS.snapshot, snap, status);
    }
    return undefined;
  }

  private engineOf(volume: string): Engine | undefined {
    return this.ctx.caches.engines
      .list(this.ctx.id.namespace)
      .find((e) => e.spec.volumeName === volume && e.metadata.deletionTimestamp === undefined);
  }

  /** Make CRs for the engine's snapshots that have none; drop CRs of purged ones. */
  private async adopt(engineName: string): Promise<undefined> {
    const { ctx } = this;
    const ns = ctx.id.namespace;
    const engine = ctx.caches.engines.get(engineName, ns);
    if (
      engine === undefined ||
      engine.spec.nodeID !== ctx.id.node ||
      engine.status?.currentState !== 'running'
    )
      return undefined;
    const reported = engine.status.snapshots;
    if (reported === undefined) return undefined;
    const volumeName = engine.spec.volumeName ?? '';
    const crs = ctx.caches.snapshots.list(ns).filter((s) => s.spec.volume === volumeName);
    const existing = new Set(crs.map((s) => s.metadata.name));
    const now = Date.now();
    for (const [name, at] of this.recentlyDeleted)
      if (now - at > RECENTLY_DELETED_MS) this.recentlyDeleted.delete(name);
    for (const name of snapshotsToAdopt(reported, existing)) {
      if (this.recentlyDeleted.has(name)) continue;
      const body: Snapshot = {
        apiVersion: LONGHORN_API_VERSION,
        kind: 'Snapshot',
        metadata: {
          name,
          namespace: ns,
          labels: { [LABEL_VOLUME]: volumeName },
          finalizers: withLonghornFinalizer(),
        },
        spec: { volume: volumeName, createSnapshot: false, labels: reported[name]?.labels ?? {} },
      };
      try {
        await ctx.client.create(KINDS.snapshot, body);
        this.log.info({ snapshot: name, volume: volumeName }, 'snapshot CR made for an engine snapshot');
      } catch (err) {
        if ((err as { status?: number }).status !== 409) throw err;
      }
    }
    for (const s of crs) {
      // The engine's list lags by a monitor period: a snapshot taken a moment ago is not gone.
      const created = Date.parse(s.status?.creationTime ?? '');
      const gone = reported[s.metadata.name] === undefined && created < now - RECENTLY_DELETED_MS;
      if (gone && s.metadata.deletionTimestamp === undefined) {
        await ctx.client.delete(KINDS.snapshot, s.metadata.name);
      }
    }
    return undefined;
  }

  /**
   * Snapshots this operator deleted lately, by name: the Engine CR's snapshot list lags (it is
   * refreshed every few seconds), and a CR must not be made again for a snapshot just deleted.
   */
  private readonly recentlyDeleted = new Map<string, number>();

  private async dropFinalizer(s: Snapshot): Promise<void> {
    this.recentlyDeleted.set(s.metadata.name, Date.now());
    if (!(s.metadata.finalizers ?? []).length) return;
    await this.ctx.client.patch(
      KINDS.snapshot,
      s.metadata.name,
      { metadata: { finalizers: withoutLonghornFinalizer(s.metadata.finalizers) } },
      s.metadata.resourceVersion,
    );
  }
}
