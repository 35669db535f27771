/**
 * Node: each operator keeps its own Node CR (made with one default disk at NODE_DATA_DIR if
 * missing), its disks' space and conditions, zone and region; and its InstanceManager CR with
 * the instance manager's address. A node whose operator is gone is marked not Ready
 * (ManagerPodDown) by one of the live operators. Its replicas' evictionRequested follows the
 * node's and disks' eviction requests (replica-eviction.ts). Disk space is looked at again every 30 s
 * (statfs of a local path; the CR is written only when something changed).
 */

import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { V1Node } from '@kubernetes/client-node';
import {
  type InstanceManager,
  instanceManagerLabels,
  LONGHORN_API_VERSION,
  type Node,
  type Replica,
  TOPOLOGY_REGION_LABEL,
  TOPOLOGY_ZONE_LABEL,
} from '@longhorn-ts/api';
import { InstanceManagerClient } from '@longhorn-ts/dataplane/instance-manager/client';
import { rfc3339 } from '../conditions.js';
import { KINDS } from '../k8s/kinds.js';
import type { ReconcileResult } from '../runtime/work-queue.js';
import { percentOf } from '../scheduler/disk-fit.js';
import { type ControllerContext, isMine, keyOf, nameOfKey } from './context.js';
import { type DiskFacts, defaultNodeSpec, nodeStatus, nodeStatusChanged } from './node-status.js';
import { syncReplicaEvictionRequested } from './replica-eviction.js';

export const NODE_CONTROLLER = 'node';
const DISK_CONFIG = 'longhorn-disk.cfg';
const RESYNC_MS = 30_000;

export function instanceManagerName(node: string): string {
  return `instance-manager-${node}`;
}

export function defaultDiskName(path: string): string {
  return `default-disk-${createHash('sha256').update(path).digest('hex').slice(0, 16)}`;
}

/** The disk's UUID from its longhorn-disk.cfg, made on first use (as Longhorn does). */
export async function diskUUID(path: string, diskName: string): Promise<string> {
  const file = join(path, DISK_CONFIG);
  try {
    const cfg = JSON.parse(await readFile(file, 'utf8')) as { diskUUID?: string };
    if (cfg.diskUUID) return cfg.diskUUID;
  } catch {
    // Missing or unreadable: make one.
  }
  await mkdir(path, { recursive: true });
  const uuid = randomUUID();
  await writeFile(`${file}.tmp`, JSON.stringify({ diskName, diskUUID: uuid, diskDriver: '' }));
  await rename(`${file}.tmp`, file);
  return uuid;
}

async function diskFacts(path: string, diskName: string): Promise<DiskFacts> {
  try {
    const uuid = await diskUUID(path, diskName);
    const st = await statfs(path);
    return { uuid, space: { maximum: st.blocks * st.bsize, available: st.bavail * st.bsize } };
  } catch (err) {
    return { uuid: '', error: (err as Error).message };
  }
}

export class NodeController {
  constructor(private readonly ctx: ControllerContext) {
    const ns = ctx.id.namespace;
    ctx.dispatcher.watch<Node>('Node', NODE_CONTROLLER, (n) => [`${ns}/${n.metadata.name}`]);
    ctx.dispatcher.watch<V1Node>('K8sNode', NODE_CONTROLLER, (n) => [`${ns}/${n.metadata?.name ?? ''}`]);
    ctx.dispatcher.watch<Replica>('Replica', NODE_CONTROLLER, (r) =>
      r.spec.nodeID ? [`${ns}/${r.spec.nodeID}`] : [],
    );
  }

  /** Keys to look at when the live set changes: every Node CR and our own. */
  allKeys(): string[] {
    const keys = this.ctx.caches.nodes
      .list(this.ctx.id.namespace)
      .map((n) => keyOf(this.ctx, n.metadata.name));
    keys.push(keyOf(this.ctx, this.ctx.id.node));
    return keys;
  }

  async reconcile(key: string): Promise<ReconcileResult | undefined> {
    const name = nameOfKey(key);
    if (name === this.ctx.id.node) return this.reconcileOwn();
    return this.reconcileOther(key, name);
  }

  private async reconcileOwn(): Promise<ReconcileResult> {
    const { ctx } = this;
    const me = ctx.id.node;
    let node = ctx.caches.nodes.get(me, ctx.id.namespace);
    if (node === undefined) {
      const diskName = defaultDiskName(ctx.id.dataDir);
      const facts = await diskFacts(ctx.id.dataDir, diskName);
      const reserved = percentOf(
        facts.space?.maximum ?? 0,
        ctx.settings.get('storage-reserved-percentage-for-default-disk'),
      );
      const created: Node = {
        apiVersion: LONGHORN_API_VERSION,
        kind: 'Node',
        metadata: { name: me, namespace: ctx.id.namespace },
        spec: defaultNodeSpec(me, diskName, ctx.id.dataDir, reserved),
      };
      try {
        await ctx.client.create(KINDS.node, created);
      } catch (err) {
        if ((err as { status?: number }).status !== 409) throw err;
      }
      // Its status follows when the cache has it.
      return { requeueAfterMs: 500 };
    }
    await this.ensureInstanceManager();
    if (node.metadata.deletionTimestamp !== undefined) return {};

    const k8s = ctx.caches.k8sNodes.get(me);
    const labels = k8s?.metadata?.labels ?? {};
    const disks: Record<string, DiskFacts> = {};
    for (const [diskName, spec] of Object.entries(node.spec.disks ?? {})) {
      disks[diskName] = await diskFacts(spec.path ?? '', diskName);
    }
    const status = nodeStatus(node, {
      live: true,
      cordoned: k8s?.spec?.unschedulable === true,
      zone: labels[TOPOLOGY_ZONE_LABEL] ?? ctx.id.zone,
      region: labels[TOPOLOGY_REGION_LABEL] ?? ctx.id.region,
      disks,
      replicas: ctx.caches.replicas.list(ctx.id.namespace),
      minimalAvailablePercentage: ctx.settings.get('storage-minimal-available-percentage'),
      now: rfc3339(ctx.clock.now()),
    });
    if (nodeStatusChanged(node.status, status)) {
      // Replaced, not merge-patched: a merge patch keeps map keys it does not mention, so a
      // replica that left a disk (or a removed disk) would stay listed in diskStatus forever.
      node = (await ctx.client.replaceStatus(KINDS.node, node, status)) as Node;
    }
    await syncReplicaEvictionRequested(ctx, node, ctx.log.child({ controller: NODE_CONTROLLER, node: me }));
    return { requeueAfterMs: RESYNC_MS };
  }

  /** Another node: if its operator is gone, one live operator says so on its Node CR. */
  private async reconcileOther(key: string, name: string): Promise<ReconcileResult | undefined> {
    const { ctx } = this;
    const node = ctx.caches.nodes.get(name, ctx.id.namespace);
    if (node === undefined || ctx.liveness.isLive(name)) return undefined;
    if (!isMine(ctx, key, name, '')) return undefined;
    const status = nodeStatus(node, {
      live: false,
      cordoned: ctx.caches.k8sNodes.get(name)?.spec?.unschedulable === true,
      k8sNodeGone: ctx.caches.k8sNodes.list().length > 0 && ctx.caches.k8sNodes.get(name) === undefined,
      zone: node.status?.zone ?? '',
      region: node.status?.region ?? '',
      // Its disks cannot be looked at from here: keep what it last reported.
      disks: {},
      replicas: ctx.caches.replicas.list(ctx.id.namespace),
      minimalAvailablePercentage: ctx.settings.get('storage-minimal-available-percentage'),
      now: rfc3339(ctx.clock.now()),
    });
    // Keep the disks' last known conditions: only the node's Ready changes.
    status.diskStatus = node.status?.diskStatus ?? {};
    if (nodeStatusChanged(node.status, status)) await ctx.client.patchStatus(KINDS.node, node, status);
    return undefined;
  }

  private async ensureInstanceManager(): Promise<void> {
    const { ctx } = this;
    const name = instanceManagerName(ctx.id.node);
    const addressAnnotation = 'longhorn.io/instance-manager-address';
    let im = ctx.caches.instanceManagers.get(name, ctx.id.namespace);
    if (im === undefined) {
      const body: InstanceManager = {
        apiVersion: LONGHORN_API_VERSION,
        kind: 'InstanceManager',
        metadata: {
          name,
          namespace: ctx.id.namespace,
          labels: instanceManagerLabels(ctx.id.node, 'v1'),
          annotations: { [addressAnnotation]: ctx.id.instanceManager },
        },
        spec: { nodeID: ctx.id.node, type: 'aio', dataEngine: 'v1', image: '' },
      };
      try {
        im = await ctx.client.create(KINDS.instanceManager, body);
      } catch (err) {
        if ((err as { status?: number }).status !== 409) throw err;
        return;
      }
    }
    if (im.metadata.annotations?.[addressAnnotation] !== ctx.id.instanceManager) {
      im = await ctx.client.patch<InstanceManager>(KINDS.instanceManager, name, {
        metadata: { annotations: { [addressAnnotation]: ctx.id.instanceManager } },
      });
    }
    let state: 'running' | 'error' = 'running';
    let apiVersion = 0;
    const client = new InstanceManagerClient(ctx.id.instanceManager);
    try {
      const v = await client.version();
      apiVersion = Number.parseInt(v.version, 10) || 1;
    } catch {
      state = 'error';
    } finally {
      client.close();
    }
    const host = ctx.id.instanceManager.slice(0, ctx.id.instanceManager.lastIndexOf(':'));
    const s = im.status ?? {};
    if (s.currentState !== state || s.ip !== host || s.ownerID !== ctx.id.node) {
      await ctx.client.patchStatus(KINDS.instanceManager, im, {
        ownerID: ctx.id.node,
        currentState: state,
        ip: host,
        apiVersion,
        apiMinVersion: 1,
      });
    }
  }
}
