/**
 * snapshot.storage.k8s.io objects (VolumeSnapshot, VolumeSnapshotContent, VolumeSnapshotClass)
 * and the PV/PVC that tie a Longhorn volume to a claim. Lists answer [] where the snapshot CRDs
 * are not installed; a missing named object is a NOT_FOUND PluginError.
 */
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1PersistentVolume,
  type V1PersistentVolumeClaim,
} from '@kubernetes/client-node';
import { notFound, PluginError } from '../errors.js';
import {
  SNAPSHOT_GROUP,
  SNAPSHOT_VERSION,
  type VolumeSnapshot,
  type VolumeSnapshotClass,
  type VolumeSnapshotContent,
} from './volume-snapshots.js';

function httpCode(err: unknown): number | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'number' ? code : undefined;
}

export class VolumeSnapshotClient {
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;

  constructor(kubeConfig: KubeConfig) {
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  private async listCluster<T>(plural: string): Promise<T[]> {
    try {
      const out = (await this.custom.listClusterCustomObject({
        group: SNAPSHOT_GROUP,
        version: SNAPSHOT_VERSION,
        plural,
      })) as { items?: T[] };
      return out.items ?? [];
    } catch (err) {
      if (httpCode(err) === 404) return [];
      throw err;
    }
  }

  contents(): Promise<VolumeSnapshotContent[]> {
    return this.listCluster('volumesnapshotcontents');
  }

  classes(): Promise<VolumeSnapshotClass[]> {
    return this.listCluster('volumesnapshotclasses');
  }

  private coords(namespace: string) {
    return { group: SNAPSHOT_GROUP, version: SNAPSHOT_VERSION, namespace, plural: 'volumesnapshots' };
  }

  async get(namespace: string, name: string): Promise<VolumeSnapshot | undefined> {
    try {
      return (await this.custom.getNamespacedCustomObject({
        ...this.coords(namespace),
        name,
      })) as VolumeSnapshot;
    } catch (err) {
      if (httpCode(err) === 404) return undefined;
      throw err;
    }
  }

  async create(body: VolumeSnapshot): Promise<VolumeSnapshot> {
    try {
      return (await this.custom.createNamespacedCustomObject({
        ...this.coords(body.metadata.namespace ?? 'default'),
        body,
      })) as VolumeSnapshot;
    } catch (err) {
      // The CRD itself is missing: say what is missing, not "the server could not find it".
      if (httpCode(err) === 404) {
        throw new PluginError(
          'NOT_FOUND',
          `the VolumeSnapshot CRDs (${SNAPSHOT_GROUP}) are not installed in this cluster`,
        );
      }
      throw err;
    }
  }

  async delete(namespace: string, name: string): Promise<void> {
    try {
      await this.custom.deleteNamespacedCustomObject({ ...this.coords(namespace), name });
    } catch (err) {
      if (httpCode(err) === 404) throw notFound('VolumeSnapshot', name, namespace);
      throw err;
    }
  }

  async claim(namespace: string, name: string): Promise<V1PersistentVolumeClaim> {
    try {
      return await this.core.readNamespacedPersistentVolumeClaim({ namespace, name });
    } catch (err) {
      if (httpCode(err) === 404) throw notFound('PersistentVolumeClaim', name, namespace);
      throw err;
    }
  }

  async volume(name: string): Promise<V1PersistentVolume | undefined> {
    try {
      return await this.core.readPersistentVolume({ name });
    } catch (err) {
      if (httpCode(err) === 404) return undefined;
      throw err;
    }
  }
}
