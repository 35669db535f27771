import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Flags } from '@oclif/core';
import { stringify } from 'yaml';
import { LonghornCommand } from '../base-command.js';
import { usageError } from '../errors.js';
import { ALL_LONGHORN_PLURALS } from '../kube/plurals.js';
import { formatBytes } from '../output/format.js';
import { type TarEntry, tarGz } from '../output/tar.js';

/** Files bigger than this are cut to their last bytes (logs grow; the end is what matters). */
const MAX_LOG_BYTES = 8 * 1024 * 1024;

async function logFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, depth: number) => {
    if (depth > 6) return;
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p, depth + 1);
      else if (e.isFile() && /\.(log|out|err|txt)$|log$/i.test(e.name)) out.push(p);
    }
  };
  await walk(dir, 0);
  return out.sort();
}

export default class SupportBundle extends LonghornCommand {
  static override summary =
    'Write every longhorn.io object, related PVs/PVCs/VolumeAttachments, events and logs into one tar.gz';
  static override description =
    "Objects as YAML under longhorn/<plural>.yaml and kubernetes/*.yaml, events in events.yaml, component logs (from --log-dir, e.g. the local cluster's logs directory) under logs/, and a summary in README.txt.";
  static override examples = [
    'kubectl longhorn support-bundle --file bundle.tar.gz',
    'kubectl longhorn support-bundle --file bundle.tar.gz --log-dir /tmp/lh/logs --log-dir /tmp/lh/nodes',
  ];
  static override flags = {
    file: Flags.string({
      char: 'f',
      description: 'Where to write the tar.gz',
      default: 'longhorn-support-bundle.tar.gz',
    }),
    'log-dir': Flags.string({
      description: 'A directory of component logs to include (repeatable)',
      multiple: true,
    }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(SupportBundle);
    for (const d of flags['log-dir'] ?? []) {
      if (!(await stat(d).catch(() => undefined))?.isDirectory())
        throw usageError(`--log-dir ${d} is not a directory`);
    }
    const client = await this.client(flags);
    const now = new Date(this.now());
    const root = `longhorn-support-bundle-${now.toISOString().replace(/[:.]/g, '-')}`;
    const entries: TarEntry[] = [];
    const add = (path: string, data: string | Buffer) =>
      entries.push({ path: `${root}/${path}`, data, mtime: now });
    const counts: string[] = [];

    for (const plural of ALL_LONGHORN_PLURALS) {
      const items = await client.listRaw(plural);
      counts.push(`${plural}: ${items.length}`);
      add(`longhorn/${plural}.yaml`, stringify({ apiVersion: 'v1', kind: 'List', items }));
    }
    const [volumes, pvs, pvcs, vas, events] = await Promise.all([
      client.list('volumes'),
      client.persistentVolumes(),
      client.persistentVolumeClaims(),
      client.csiVolumeAttachments(),
      client.events(),
    ]);
    const names = new Set(volumes.map((v) => v.metadata.name));
    const ourPvs = pvs.filter(
      (pv) => pv.spec?.csi?.driver === 'driver.longhorn.io' || names.has(pv.spec?.csi?.volumeHandle ?? ''),
    );
    const pvNames = new Set(ourPvs.map((pv) => pv.metadata?.name));
    const ourPvcs = pvcs.filter((c) => pvNames.has(c.spec?.volumeName));
    const ourVas = vas.filter(
      (va) => va.spec.attacher === 'driver.longhorn.io' || pvNames.has(va.spec.source.persistentVolumeName),
    );
    add('kubernetes/persistentvolumes.yaml', stringify({ apiVersion: 'v1', kind: 'List', items: ourPvs }));
    add(
      'kubernetes/persistentvolumeclaims.yaml',
      stringify({ apiVersion: 'v1', kind: 'List', items: ourPvcs }),
    );
    add(
      'kubernetes/volumeattachments.storage.k8s.io.yaml',
      stringify({ apiVersion: 'v1', kind: 'List', items: ourVas }),
    );
    add('events.yaml', stringify({ apiVersion: 'v1', kind: 'List', items: events }));
    counts.push(`persistentvolumes: ${ourPvs.length}`, `persistentvolumeclaims: ${ourPvcs.length}`);
    counts.push(`storage volumeattachments: ${ourVas.length}`, `events: ${events.length}`);

    let logs = 0;
    for (const [i, dir] of (flags['log-dir'] ?? []).entries()) {
      for (const file of await logFiles(dir)) {
        const data = await readFile(file);
        const cut = data.length > MAX_LOG_BYTES ? data.subarray(data.length - MAX_LOG_BYTES) : data;
        add(`logs/${i}/${relative(dir, file)}`, cut);
        logs++;
      }
    }
    counts.push(`log files: ${logs}`);
    add(
      'README.txt',
      [
        'longhorn-ts support bundle',
        `created: ${now.toISOString()}`,
        `namespace: ${flags.namespace}`,
        `cluster: ${client.kubeConfig.getCurrentCluster()?.server ?? ''}`,
        `log directories: ${(flags['log-dir'] ?? []).map((d, i) => `logs/${i} = ${d}`).join(', ') || 'none'}`,
        '',
        ...counts,
        '',
      ].join('\n'),
    );
    const archive = tarGz(entries);
    await writeFile(flags.file, archive);
    this.print(
      `support bundle written to ${flags.file} (${formatBytes(archive.length)}, ${entries.length} files)`,
    );
  }
}
