/** Everything `volume get` and `doctor` show about one volume, read in one go. */
import { LABEL_VOLUME } from '@longhorn-ts/api';
import type { VolumeDetail } from '../render/volume.js';
import type { LonghornClient } from './client.js';

export async function fetchVolumeDetail(client: LonghornClient, name: string): Promise<VolumeDetail> {
  const volume = await client.get('volumes', name);
  const selector = `${LABEL_VOLUME}=${name}`;
  const [engines, replicas, nodes, snapshots, attachment, events] = await Promise.all([
    client.list('engines', selector),
    client.list('replicas', selector),
    client.list('nodes'),
    client.list('snapshots'),
    client.tryGet('volumeattachments', name),
    eventsAbout(client, name),
  ]);
  return {
    volume,
    engine: engines.find((e) => !e.metadata.deletionTimestamp) ?? engines[0],
    replicas,
    nodes,
    snapshots: snapshots.filter((s) => s.spec.volume === name),
    attachment,
    events,
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
