/**
 * What every controller of one operator process shares: who it is, the caches, the writer, the
 * event recorder, the settings, the live-node set, and the dispatcher that routes keys.
 */

import type { V1Lease, V1Node } from '@kubernetes/client-node';
import type {
  Backup,
  BackupTarget,
  BackupVolume,
  Engine,
  InstanceManager,
  Node,
  Replica,
  Setting,
  Snapshot,
  Volume,
  VolumeAttachment,
} from '@longhorn-ts/api';
import type { Logger } from 'pino';
import type { EventRecorder } from '../k8s/events.js';
import type { LonghornClient } from '../k8s/longhorn-client.js';
import { chooseOwner } from '../ownership.js';
import type { Clock } from '../runtime/clock.js';
import type { Dispatcher } from './dispatcher.js';
import type { SettingsStore } from './settings-store.js';

export interface Identity {
  node: string;
  ip: string;
  zone: string;
  region: string;
  dataDir: string;
  namespace: string;
  /** This node's instance manager gRPC address. */
  instanceManager: string;
}

/** A read-only cache of one kind (ResilientInformer implements it). */
export interface Cache<T> {
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): ReadonlyArray<T>;
}

export interface Caches {
  volumes: Cache<Volume>;
  engines: Cache<Engine>;
  replicas: Cache<Replica>;
  nodes: Cache<Node>;
  snapshots: Cache<Snapshot>;
  settings: Cache<Setting>;
  volumeAttachments: Cache<VolumeAttachment>;
  instanceManagers: Cache<InstanceManager>;
  backupTargets: Cache<BackupTarget>;
  backupVolumes: Cache<BackupVolume>;
  backups: Cache<Backup>;
  k8sNodes: Cache<V1Node>;
  leases: Cache<V1Lease>;
}

export interface Liveness {
  live(): ReadonlySet<string>;
  isLive(node: string): boolean;
}

export interface ControllerContext {
  id: Identity;
  caches: Caches;
  client: LonghornClient;
  events: EventRecorder;
  settings: SettingsStore;
  liveness: Liveness;
  dispatcher: Dispatcher;
  clock: Clock;
  log: Logger;
}

/** Should this operator act on the object with this key, preferred and current owner? */
export function isMine(ctx: ControllerContext, key: string, preferred: string, current: string): boolean {
  return chooseOwner({ key, preferred, current, liveNodes: ctx.liveness.live() }) === ctx.id.node;
}

/** The namespaced cache key. */
export function keyOf(ctx: ControllerContext, name: string): string {
  return `${ctx.id.namespace}/${name}`;
}

export function nameOfKey(key: string): string {
  const i = key.indexOf('/');
  return i < 0 ? key : key.slice(i + 1);
}
