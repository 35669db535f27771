/**
 * The typed client the commands use: Longhorn custom objects by plural (`volumes`, `engines`...)
 * with their TypeScript types, plus the Kubernetes objects around them (events, PVs, PVCs,
 * storage.k8s.io VolumeAttachments, pods). A 404 on a named object becomes a NOT_FOUND
 * PluginError that names the kind; everything else is left for `exitFor`.
 */
import {
  CoreV1Api,
  type CoreV1Event,
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  StorageV1Api,
  setHeaderOptions,
  type V1PersistentVolume,
  type V1PersistentVolumeClaim,
  type V1Pod,
  type V1VolumeAttachment,
  Watch,
} from '@kubernetes/client-node';
import {
  API_GROUP,
  API_VERSION,
  type Backup,
  type BackupTarget,
  type BackupVolume,
  type Engine,
  type InstanceManager,
  type Node,
  type Replica,
  type Setting,
  type Snapshot,
  type Volume,
  type VolumeAttachment,
} from '@longhorn-ts/api';
import { notFound } from '../errors.js';

export interface LonghornKinds {
  volumes: Volume;
  engines: Engine;
  replicas: Replica;
  snapshots: Snapshot;
  nodes: Node;
  settings: Setting;
  volumeattachments: VolumeAttachment;
  instancemanagers: InstanceManager;
  backuptargets: BackupTarget;
  backupvolumes: BackupVolume;
  backups: Backup;
}
export type Plural = keyof LonghornKinds;

export const KIND_OF: Record<Plural, string> = {
  volumes: 'Volume',
  engines: 'Engine',
  replicas: 'Replica',
  snapshots: 'Snapshot',
  nodes: 'Node',
  settings: 'Setting',
  volumeattachments: 'VolumeAttachment',
  instancemanagers: 'InstanceManager',
  backuptargets: 'BackupTarget',
  backupvolumes: 'BackupVolume',
  backups: 'Backup',
};

export type WatchEvent = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

function httpCode(err: unknown): number | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'number' ? code : undefined;
}

export class LonghornClient {
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly storage: StorageV1Api;

  constructor(
    readonly kubeConfig: KubeConfig,
    readonly namespace: string,
  ) {
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.storage = kubeConfig.makeApiClient(StorageV1Api);
  }

  private coords(plural: string) {
    return { group: API_GROUP, version: API_VERSION, namespace: this.namespace, plural };
  }

  async get<P extends Plural>(plural: P, name: string): Promise<LonghornKinds[P]> {
    try {
      return (await this.custom.getNamespacedCustomObject({
        ...this.coords(plural),
        name,
      })) as LonghornKinds[P];
    } catch (err) {
      if (httpCode(err) === 404) throw notFound(KIND_OF[plural], name, this.namespace);
      throw err;
    }
  }

  async tryGet<P extends Plural>(plural: P, name: string): Promise<LonghornKinds[P] | undefined> {
    try {
      return (await this.custom.getNamespacedCustomObject({
        ...this.coords(plural),
        name,
      })) as LonghornKinds[P];
    } catch (err) {
      if (httpCode(err) === 404) return undefined;
      throw err;
    }
  }

  async list<P extends Plural>(plural: P, labelSelector?: string): Promise<LonghornKinds[P][]> {
    const out = (await this.custom.listNamespacedCustomObject({
      ...this.coords(plural),
      ...(labelSelector !== undefined && { labelSelector }),
    })) as { items?: LonghornKinds[P][] };
    return out.items ?? [];
  }

  /** Any longhorn.io plural, as plain objects (kinds this plugin has no type for included). */
  async listRaw(plural: string): Promise<Record<string, unknown>[]> {
    try {
      const out = (await this.custom.listNamespacedCustomObject(this.coords(plural))) as {
        items?: Record<string, unknown>[];
      };
      return out.items ?? [];
    } catch (err) {
      if (httpCode(err) === 404) return []; // CRD not installed
      throw err;
    }
  }

  async create<P extends Plural>(plural: P, body: LonghornKinds[P]): Promise<LonghornKinds[P]> {
    return (await this.custom.createNamespacedCustomObject({
      ...this.coords(plural),
      body,
    })) as LonghornKinds[P];
  }

  /** JSON merge patch (null deletes a key). */
  async patch<P extends Plural>(plural: P, name: string, body: object): Promise<LonghornKinds[P]> {
    try {
      return (await this.custom.patchNamespacedCustomObject(
        { ...this.coords(plural), name, body },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      )) as LonghornKinds[P];
    } catch (err) {
      if (httpCode(err) === 404) throw notFound(KIND_OF[plural], name, this.namespace);
      throw err;
    }
  }

  async delete(plural: Plural, name: string): Promise<void> {
    try {
      await this.custom.deleteNamespacedCustomObject({ ...this.coords(plural), name });
    } catch (err) {
      if (httpCode(err) === 404) throw notFound(KIND_OF[plural], name, this.namespace);
      throw err;
    }
  }

  /** Events in the namespace, optionally about one object (involvedObject.name). */
  async events(involvedName?: string): Promise<CoreV1Event[]> {
    const out = await this.core.listNamespacedEvent({
      namespace: this.namespace,
      ...(involvedName !== undefined && { fieldSelector: `involvedObject.name=${involvedName}` }),
    });
    return out.items;
  }

  async persistentVolumes(): Promise<V1PersistentVolume[]> {
    return (await this.core.listPersistentVolume()).items;
  }

  async persistentVolumeClaims(): Promise<V1PersistentVolumeClaim[]> {
    return (await this.core.listPersistentVolumeClaimForAllNamespaces()).items;
  }

  async csiVolumeAttachments(): Promise<V1VolumeAttachment[]> {
    return (await this.storage.listVolumeAttachment()).items;
  }

  /** The keys of a Secret in the namespace (values are not read); undefined when there is none. */
  async secretKeys(name: string): Promise<string[] | undefined> {
    try {
      const secret = await this.core.readNamespacedSecret({ name, namespace: this.namespace });
      return Object.keys({ ...secret.data, ...secret.stringData });
    } catch (err) {
      if (httpCode(err) === 404) return undefined;
      throw err;
    }
  }

  async pods(labelSelector?: string): Promise<V1Pod[]> {
    return (
      await this.core.listNamespacedPod({
        namespace: this.namespace,
        ...(labelSelector !== undefined && { labelSelector }),
      })
    ).items;
  }

  /**
   * Watches a plural; `onEvent` runs for every change. Resolves when the watch ends (error or
   * server close) — callers restart it. Returns a function that stops it.
   */
  async watch(
    plural: Plural,
    onEvent: (type: WatchEvent, obj: unknown) => void,
    onDone: (err: unknown) => void,
    labelSelector?: string,
  ): Promise<() => void> {
    const path = `/apis/${API_GROUP}/${API_VERSION}/namespaces/${this.namespace}/${plural}`;
    const controller = await new Watch(this.kubeConfig).watch(
      path,
      { ...(labelSelector !== undefined && { labelSelector }), allowWatchBookmarks: false },
      (type, obj) => onEvent(type as WatchEvent, obj),
      onDone,
    );
    return () => controller.abort();
  }
}
