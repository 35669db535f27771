import { CustomObjectsApi, type KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import {
  API_GROUP,
  API_VERSION,
  type Backup,
  type BackupTarget,
  type Engine,
  LABEL_VOLUME,
  type Node as LonghornNode,
  NAMESPACE,
  type Setting,
  type Snapshot,
  type Volume,
  type VolumeAttachment,
} from '@longhorn-ts/api';
import { CsiError } from '../errors.js';

const PLURALS = {
  Volume: 'volumes',
  Engine: 'engines',
  VolumeAttachment: 'volumeattachments',
  Snapshot: 'snapshots',
  Node: 'nodes',
  Backup: 'backups',
  BackupTarget: 'backuptargets',
  Setting: 'settings',
} as const;
type Kind = keyof typeof PLURALS;
interface KindMap {
  Volume: Volume;
  Engine: Engine;
  VolumeAttachment: VolumeAttachment;
  Snapshot: Snapshot;
  Node: LonghornNode;
  Backup: Backup;
  BackupTarget: BackupTarget;
  Setting: Setting;
}

export const FIELD_MANAGER = 'longhorn-ts-csi';

function httpStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

function serverMessage(err: unknown): string {
  const body = (err as { body?: unknown } | null)?.body;
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: unknown };
      if (typeof parsed.message === 'string') return parsed.message;
    } catch {
      return body;
    }
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * The one place Kubernetes API failures become CSI errors: 404 NOT_FOUND, 409 ALREADY_EXISTS
 * (a create raced another), 422/400 INVALID_ARGUMENT (the schema or a webhook refused what the
 * request asked for), anything else UNAVAILABLE (the sidecars retry).
 */
function toCsiError(err: unknown, what: string): CsiError {
  const status = httpStatus(err);
  const message = `${what}: ${serverMessage(err)}`;
  if (status === 404) return new CsiError('NOT_FOUND', message);
  if (status === 409) return new CsiError('ALREADY_EXISTS', message);
  if (status === 400 || status === 422) return new CsiError('INVALID_ARGUMENT', message);
  return new CsiError('UNAVAILABLE', message);
}

/** Longhorn's objects in longhorn-system, read and written directly (no caches: calls are rare). */
export class LonghornObjects {
  private readonly api: CustomObjectsApi;

  constructor(
    kubeConfig: KubeConfig,
    readonly namespace: string = NAMESPACE,
  ) {
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
  }

  private coords(kind: Kind) {
    return { group: API_GROUP, version: API_VERSION, plural: PLURALS[kind], namespace: this.namespace };
  }

  /** The object, or undefined when it does not exist. */
  async get<K extends Kind>(kind: K, name: string): Promise<KindMap[K] | undefined> {
    try {
      return (await this.api.getNamespacedCustomObject({ ...this.coords(kind), name })) as KindMap[K];
    } catch (err) {
      if (httpStatus(err) === 404) return undefined;
      throw toCsiError(err, `get ${kind} ${name}`);
    }
  }

  async list<K extends Kind>(kind: K, labelSelector?: string): Promise<KindMap[K][]> {
    try {
      const list = (await this.api.listNamespacedCustomObject({
        ...this.coords(kind),
        ...(labelSelector ? { labelSelector } : {}),
      })) as { items: KindMap[K][] };
      return list.items;
    } catch (err) {
      throw toCsiError(err, `list ${kind}`);
    }
  }

  async create<K extends Kind>(kind: K, body: KindMap[K]): Promise<KindMap[K]> {
    try {
      return (await this.api.createNamespacedCustomObject({
        ...this.coords(kind),
        body: { ...body, metadata: { ...body.metadata, namespace: this.namespace } },
        fieldManager: FIELD_MANAGER,
      })) as KindMap[K];
    } catch (err) {
      throw toCsiError(err, `create ${kind} ${body.metadata.name}`);
    }
  }

  /** JSON merge patch of the object (a `null` removes a key). */
  async patch<K extends Kind>(kind: K, name: string, body: object): Promise<KindMap[K]> {
    try {
      return (await this.api.patchNamespacedCustomObject(
        { ...this.coords(kind), name, body, fieldManager: FIELD_MANAGER },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      )) as KindMap[K];
    } catch (err) {
      throw toCsiError(err, `patch ${kind} ${name}`);
    }
  }

  /** Delete; one already gone is not an error. */
  async delete(kind: Kind, name: string): Promise<void> {
    try {
      await this.api.deleteNamespacedCustomObject({ ...this.coords(kind), name });
    } catch (err) {
      if (httpStatus(err) !== 404) throw toCsiError(err, `delete ${kind} ${name}`);
    }
  }

  /** The volume's engine that is not being deleted (one per attached volume). */
  async engineOf(volume: string): Promise<Engine | undefined> {
    const engines = await this.list('Engine');
    return engines.find((e) => e.spec.volumeName === volume && e.metadata.deletionTimestamp === undefined);
  }

  async snapshotsOf(volume?: string): Promise<Snapshot[]> {
    const all = await this.list('Snapshot', volume ? `${LABEL_VOLUME}=${volume}` : undefined);
    return volume ? all.filter((s) => s.spec.volume === volume) : all;
  }
}
