/** Everything `volume get` and `doctor` show about one volume, read in one go. */
import {
  CRYPTO_SECRET_ANNOTATION,
  CSI_DRIVER_NAME,
  LABEL_VOLUME,
  type PvSecretRefs,
  type Volume,
} from '@longhorn-ts/api';
import type { VolumeDetail } from '../render/volume.js';
import type { LonghornClient } from './client.js';

export async function fetchVolumeDetail(client: LonghornClient, name: string): Promise<VolumeDetail> {
  const volume = await client.get('volumes', name);
  const selector = `${LABEL_VOLUME}=${name}`;
  const [engines, replicas, nodes, snapshots, attachment, events, persistentVolume] = await Promise.all([
    client.list('engines', selector),
    client.list('replicas', selector),
    client.list('nodes'),
    client.list('snapshots'),
    client.tryGet('volumeattachments', name),
    eventsAbout(client, name),
    cryptoSecretRefsOf(client, volume),
  ]);
  return {
    volume,
    engine: engines.find((e) => !e.metadata.deletionTimestamp) ?? engines[0],
    replicas,
    nodes,
    snapshots: snapshots.filter((s) => s.spec.volume === name),
    attachment,
    events,
    persistentVolume,
  };
}

/**
 * The secret references of an encrypted volume's PersistentVolume, where the operator finds its
 * crypto Secret; not read when the volume is plain or its annotation names the Secret (it wins).
 */
async function cryptoSecretRefsOf(client: LonghornClient, volume: Volume): Promise<PvSecretRefs | undefined> {
  if (volume.spec.encrypted !== true || volume.metadata.annotations?.[CRYPTO_SECRET_ANNOTATION] !== undefined)
    return undefined;
  const pv = (await client.persistentVolumes()).find(
    (p) => p.spec?.csi?.driver === CSI_DRIVER_NAME && p.spec.csi.volumeHandle === volume.metadata.name,
  );
  const csi = pv?.spec?.csi;
  if (pv === undefined || csi === undefined) return undefined;
  return {
    name: pv.metadata?.name ?? '',
    nodeStageSecretRef: csi.nodeStageSecretRef,
    nodePublishSecretRef: csi.nodePublishSecretRef,
    controllerPublishSecretRef: csi.controllerPublishSecretRef,
  };
}

/** Events about the volume and the objects named after it (engine, replicas, snapshots). */
async function eventsAbout(client: LonghornClient, name: string) {
  const all = await client.events();
  return all.filter((e) => {
    const n = e.involvedObject.name ?? '';
    return n === name || n.startsWith(`${name}-`);
  });
}
