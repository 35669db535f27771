/**
 * Replica (acted on by the operator of its node, spec.nodeID): the disk's replica server
 * through the node's instance manager, the replica opened (or created) on it while desired
 * running and closed while desired stopped, and status: currentState, the server's TCP address
 * on NODE_IP (engines on other nodes dial it; never a Unix socket), instanceManagerName.
 * Deleting a Replica removes its data directory. A Replica whose node is gone has its
 * finalizer removed by another operator (its data stays on that node's disk).
 */

import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Node, type Replica, type ReplicaStatus, withoutLonghornFinalizer } from '@longhorn-ts/api';
import type { ReplicaEntryInfo } from '@longhorn-ts/dataplane/protocol/replica-registry';
import type { Logger } from 'pino';
import type { ReplicaServers } from '../instances/replica-servers.js';
import { diskBulkShare, replicasDir } from '../instances/replica-servers.js';
import { KINDS } from '../k8s/kinds.js';
import type { ReconcileResult } from '../runtime/work-queue.js';
import { type ControllerContext, isMine, nameOfKey } from './context.js';
import { instanceManagerName } from './node-controller.js';
import { sameJson } from './same-json.js';

export const REPLICA_CONTROLLER = 'replica';
/** How often a replica's server is looked at (node-local, like Longhorn's monitors). */
const MONITOR_MS = 5_000;

/** The disk of the node that holds the replica: by UUID (spec.diskID), else by path. */
export function replicaDisk(node: Node | undefined, r: Replica): { name: string; path: string } | undefined {
  if (node === undefined) return undefined;
  for (const [name, ds] of Object.entries(node.status?.diskStatus ?? {})) {
    if (r.spec.diskID && ds.diskUUID === r.spec.diskID) {
      return { name, path: node.spec.disks?.[name]?.path ?? ds.diskPath ?? '' };
    }
  }
  for (const [name, d] of Object.entries(node.spec.disks ?? {})) {
    if (r.spec.diskPath && d.path === r.spec.diskPath) return { name, path: d.path };
  }
  return undefined;
}

/** The replica's directory under its disk: `<disk>/replicas/<dataDirectoryName>`. */
export function replicaDir(diskPath: string, r: Replica): string {
  return join(replicasDir(diskPath), r.spec.dataDirectoryName || r.metadata.name);
}

/** The status a replica should report, given its server and whether the server has it open. */
export function replicaStatus(
  prev: ReplicaStatus | undefined,
  facts: {
    node: string;
    ip: string;
    serverAddress: string;
    serverError?: string;
    open: boolean;
    desire: string;
  },
): ReplicaStatus {
  const port =
    facts.serverAddress === ''
      ? 0
      : Number(facts.serverAddress.slice(facts.serverAddress.lastIndexOf(':') + 1));
  let currentState: ReplicaStatus['currentState'];
  if (facts.serverError !== undefined && facts.desire === 'running') currentState = 'error';
  else if (facts.open && facts.desire === 'running') currentState = 'running';
  else if (facts.open) currentState = 'stopping';
  else if (facts.desire === 'running') currentState = 'starting';
  else currentState = 'stopped';
  const running = currentState === 'running';
  return {
    ...prev,
    ownerID: facts.node,
    instanceManagerName: instanceManagerName(facts.node),
    currentState,
    ip: running ? facts.ip : '',
    storageIP: running ? facts.ip : '',
    port: running ? port : 0,
    started: running || (prev?.started ?? false),
    conditions: prev?.conditions ?? [],
  };
}

export class ReplicaController {
  private readonly log: Logger;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly servers: ReplicaServers,
  ) {
    this.log = ctx.log.child({ controller: REPLICA_CONTROLLER });
    ctx.dispatcher.watch<Replica>('Replica', REPLICA_CONTROLLER, (r) => [
      `${r.metadata.namespace}/${r.metadata.name}`,
    ]);
  }

  async reconcile(key: string): Promise<ReconcileResult | undefined> {
    const { ctx } = this;
    const r = ctx.caches.replicas.get(nameOfKey(key), ctx.id.namespace);
    if (r === undefined) return undefined;
    const nodeID = r.spec.nodeID ?? '';
    const log = this.log.child({ replica: r.metadata.name, volume: r.spec.volumeName ?? '' });

    if (nodeID !== ctx.id.node) {
      // Not ours to run. If it is going away and its node cannot clean it, one live operator
      // lets it go (the data stays on that node's disk).
      const deleting = r.metadata.deletionTimestamp !== undefined;
      if (deleting && (nodeID === '' || !ctx.liveness.isLive(nodeID)) && isMine(ctx, key, nodeID, '')) {
        await this.dropFinalizer(r);
        log.info({ node: nodeID }, 'replica deleted without cleanup: its node is unavailable');
      }
      return undefined;
    }

    const node = ctx.caches.nodes.get(ctx.id.node, ctx.id.namespace);
    const disk = replicaDisk(node, r);
    if (r.metadata.deletionTimestamp !== undefined) {
      await this.remove(r, disk, log);
      return undefined;
    }
    if (disk === undefined) {
      await this.writeStatus(r, {
        serverAddress: '',
        serverError: `disk ${r.spec.diskID} is not on node ${nodeID}`,
        open: false,
      });
      return { requeueAfterMs: 5_000 };
    }

    const bulk = diskBulkShare(
      ctx.settings.get('node-rebuild-backup-mbytes-per-second'),
      Object.keys(node?.spec.disks ?? {}).length,
    );
    const server = await this.servers.ensure(disk.name, disk.path, bulk);
    if (server.state !== 'running') {
      await this.writeStatus(r, {
        serverAddress: '',
        ...(server.state === 'error' && { serverError: server.error }),
        open: false,
      });
      return { requeueAfterMs: MONITOR_MS };
    }
    let entries: ReplicaEntryInfo[];
    try {
      entries = await this.servers.list(disk.name, ctx.clock.now());
    } catch (err) {
      await this.writeStatus(r, { serverAddress: '', serverError: (err as Error).message, open: false });
      return { requeueAfterMs: MONITOR_MS };
    }
    const id = r.metadata.name;
    let open = entries.some((e) => e.id === id);
    const dir = replicaDir(disk.path, r);
    if (r.spec.desireState === 'running' && !open) {
      try {
        // The server runs on this node: whether the replica exists is a local question.
        const exists = existsSync(join(dir, 'volume.meta'));
        await this.servers.withAdmin(disk.name, (admin) =>
          exists
            ? admin.open(id, { dir })
            : admin.create(id, { size: Number(r.spec.volumeSize ?? '0'), dir }),
        );
        open = true;
        log.info({ dir }, 'replica opened');
      } catch (err) {
        await this.writeStatus(r, {
          serverAddress: server.address,
          serverError: (err as Error).message,
          open: false,
        });
        log.warn({ err: (err as Error).message }, 'replica could not be opened');
        return { requeueAfterMs: MONITOR_MS * 2 };
      } finally {
        this.servers.invalidate(disk.name);
      }
    } else if (r.spec.desireState !== 'running' && open) {
      await this.servers.withAdmin(disk.name, (admin) => admin.close(id));
      this.servers.invalidate(disk.name);
      open = false;
      log.info('replica closed');
    }
    await this.writeStatus(r, { serverAddress: server.address, open });
    if (r.spec.dataDirectoryName !== id && !r.spec.dataDirectoryName) {
      await ctx.client.patch(KINDS.replica, id, { spec: { dataDirectoryName: id, diskPath: disk.path } });
    }
    // Only a replica that should serve is watched; a stopped one has nothing to notice.
    return r.spec.desireState === 'running' ? { requeueAfterMs: MONITOR_MS } : undefined;
  }

  private async writeStatus(
    r: Replica,
    facts: { serverAddress: string; serverError?: string; open: boolean },
  ): Promise<void> {
    const status = replicaStatus(r.status, {
      node: this.ctx.id.node,
      ip: this.ctx.id.ip,
      desire: r.spec.desireState ?? 'stopped',
      ...facts,
    });
    if (sameJson(status, r.status)) return;
    await this.ctx.client.replaceStatus(KINDS.replica, r, status);
  }

  private async remove(
    r: Replica,
    disk: { name: string; path: string } | undefined,
    log: Logger,
  ): Promise<void> {
    if (disk !== undefined) {
      const dir = replicaDir(disk.path, r);
      try {
        await this.servers.withAdmin(disk.name, (admin) => admin.delete(r.metadata.name, { dir }));
      } catch {
        // The server is not up: remove the directory ourselves.
        await rm(dir, { recursive: true, force: true });
      }
      this.servers.invalidate(disk.name);
      log.info({ dir }, 'replica data removed');
    }
    await this.dropFinalizer(r);
  }

  private async dropFinalizer(r: Replica): Promise<void> {
    if (!(r.metadata.finalizers ?? []).length) return;
    await this.ctx.client.patch(
      KINDS.replica,
      r.metadata.name,
      { metadata: { finalizers: withoutLonghornFinalizer(r.metadata.finalizers) } },
      r.metadata.resourceVersion,
    );
  }
}
