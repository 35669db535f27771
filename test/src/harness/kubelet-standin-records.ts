import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeletVolume } from './kubelet-csi.js';

// What the kubelet stand-in has mounted, on disk beside the mounts (kubelet keeps a
// vol_data.json per volume for the same reason): a restarted stand-in finds every volume it
// staged or published, and unmounts those whose pod went away while it was down.

/** One volume of one pod. Secrets are never written: unpublish and unstage need none. */
export interface MountRecord {
  pod: { namespace: string; name: string; uid: string };
  volume: Omit<KubeletVolume, 'stageSecrets' | 'publishSecrets'>;
  /** false while staging/publishing is under way (or failed): the mount may be half done. */
  published: boolean;
}

export class MountRecords {
  constructor(private readonly root: string) {}

  private dir(uid: string): string {
    return join(this.root, uid);
  }

  private file(uid: string, pvName: string): string {
    return join(this.dir(uid), `${pvName}.json`);
  }

  /** Written atomically (tmp + rename), so a crash leaves the old or the new record. */
  async write(record: MountRecord): Promise<void> {
    const { stageSecrets: _s, publishSecrets: _p, ...volume } = record.volume as KubeletVolume;
    await mkdir(this.dir(record.pod.uid), { recursive: true });
    const file = this.file(record.pod.uid, record.volume.pvName);
    await writeFile(`${file}.tmp`, `${JSON.stringify({ ...record, volume }, null, 2)}\n`);
    await rename(`${file}.tmp`, file);
  }

  async remove(uid: string, pvName: string): Promise<void> {
    await rm(this.file(uid, pvName), { force: true });
    const left = await readdir(this.dir(uid)).catch(() => []);
    if (left.length === 0) await rm(this.dir(uid), { recursive: true, force: true });
  }

  /** Every record; unreadable files are reported, not fatal. */
  async all(onBad?: (file: string, err: unknown) => void): Promise<MountRecord[]> {
    const records: MountRecord[] = [];
    const uids = await readdir(this.root).catch(() => [] as string[]);
    for (const uid of uids) {
      const files = await readdir(this.dir(uid)).catch(() => [] as string[]);
      for (const f of files.filter((f) => f.endsWith('.json'))) {
        const file = join(this.dir(uid), f);
        try {
          records.push(JSON.parse(await readFile(file, 'utf8')) as MountRecord);
        } catch (err) {
          onBad?.(file, err);
        }
      }
    }
    return records;
  }
}
