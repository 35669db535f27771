/**
 * Volume eviction (Longhorn's volume eviction controller): a volume with a replica to evict gets
 * an attachment ticket of type volume-eviction-controller on its owner's node (frontend either
 * way, priority 800), so a detached volume is attached long enough to rebuild a replica
 * elsewhere and drop the evicted one (volume/eviction.ts does that while attached); the ticket
 * goes once no replica waits for eviction. As in Longhorn, the ticket is only filed when the
 * scheduler has a disk for the new replica, so an eviction with nowhere to go does not keep a
 * volume attached.
 */

import { attachmentTicketId, type Replica, type Volume } from '@longhorn-ts/api';
import type { Logger } from 'pino';
import { KINDS } from '../k8s/kinds.js';
import type { ReconcileResult } from '../runtime/work-queue.js';
import { scheduleReplicas } from '../scheduler/replica-scheduler.js';
import { AttacherType } from '../volume/attachment-tickets.js';
import { type ControllerContext, nameOfKey } from './context.js';
import { toSchedNode, toSchedReplica, toSchedVolume } from './volume-views.js';

export const VOLUME_EVICTION_CONTROLLER = 'volume-eviction';
const RETRY_MS = 30_000;

export function evictionTicketId(volume: string): string {
  return attachmentTicketId(AttacherType.volumeEvictionController, volume);
}

/**
 * Should the volume hold an eviction ticket (pure)? `hasCandidate` asks the scheduler, only
 * before the ticket is filed: once the replacement exists the scheduler finds no room for
 * another, and withdrawing the ticket then would detach the volume in the middle of its rebuild.
 */
export function wantsEvictionTicket(
  replicas: readonly Replica[],
  filed: boolean,
  hasCandidate: () => boolean,
): boolean {
  const evicting = replicas.some(
    (r) => r.spec.evictionRequested === true && r.metadata.deletionTimestamp === undefined,
  );
  return evicting && (filed || hasCandidate());
}

export class VolumeEvictionController {
  private readonly log: Logger;
  /** Volumes already reported without a disk to evict to (said once, not on every pass). */
  private readonly warned = new Set<string>();

  constructor(private readonly ctx: ControllerContext) {
    this.log = ctx.log.child({ controller: VOLUME_EVICTION_CONTROLLER });
    const ns = ctx.id.namespace;
    ctx.dispatcher.watch<Volume>('Volume', VOLUME_EVICTION_CONTROLLER, (v) => [`${ns}/${v.metadata.name}`]);
    ctx.dispatcher.watch<Replica>('Replica', VOLUME_EVICTION_CONTROLLER, (r) =>
      r.spec.volumeName ? [`${ns}/${r.spec.volumeName}`] : [],
    );
  }

  async reconcile(key: string): Promise<ReconcileResult | undefined> {
    const { ctx } = this;
    const ns = ctx.id.namespace;
    const name = nameOfKey(key);
    const volume = ctx.caches.volumes.get(name, ns);
    // The volume's owner files and withdraws its tickets, as it arbitrates them.
    if (volume === undefined || volume.status?.ownerID !== ctx.id.node) return undefined;
    const va = ctx.caches.volumeAttachments.get(name, ns);
    if (va === undefined) return undefined;
    const replicas = ctx.caches.replicas.list(ns).filter((r) => r.spec.volumeName === name);
    const id = evictionTicketId(name);
    const has = va.spec.attachmentTickets?.[id] !== undefined;
    const deleting = volume.metadata.deletionTimestamp !== undefined;
    let noCandidate = false;
    const want =
      !deleting &&
      wantsEvictionTicket(replicas, has, () => {
        const ok = this.hasCandidate(volume, replicas);
        noCandidate = !ok;
        return ok;
      });
    if (want && !has) {
      await ctx.client.patch(KINDS.volumeAttachment, name, {
        spec: {
          attachmentTickets: {
            [id]: {
              id,
              type: AttacherType.volumeEvictionController,
              nodeID: ctx.id.node,
              parameters: { disableFrontend: 'any' },
            },
          },
        },
      });
      this.log.info({ volume: name }, 'eviction ticket filed: the volume attaches to move its replicas');
    } else if (!want && has) {
      await ctx.client.patch(KINDS.volumeAttachment, name, { spec: { attachmentTickets: { [id]: null } } });
      this.log.info({ volume: name }, 'eviction ticket withdrawn');
    }
    // A disk may free up or a node come back: look again later.
    return noCandidate ? { requeueAfterMs: RETRY_MS } : undefined;
  }

  private hasCandidate(volume: Volume, replicas: readonly Replica[]): boolean {
    const { ctx } = this;
    const live = ctx.liveness.live();
    const nodes = ctx.caches.nodes
      .list(ctx.id.namespace)
      .map((n) => toSchedNode(n, live.has(n.metadata.name)));
    const res = scheduleReplicas({
      volume: toSchedVolume(volume, { replicas: ctx.settings.get('default-replica-count') }),
      nodes,
      replicas: replicas.map(toSchedReplica),
      count: 1,
      settings: ctx.settings.sched(),
      replacingFailed: true,
    });
    const name = volume.metadata.name;
    if (!res.ok && !this.warned.has(name)) {
      this.warned.add(name);
      this.log.warn({ volume: name, reason: res.reason }, 'no disk to evict a replica to');
    }
    if (res.ok) this.warned.delete(name);
    return res.ok;
  }
}
