/**
 * Backupstore benchmark: backup and restore MiB/s of one volume to a directory target and to a
 * real MinIO (lz4, N workers), the time of an incremental backup after a 1% change, and the
 * requests each backup made. Anchor in the same run: the `lz4` CLI compressing the same bytes
 * single-threaded (Longhorn's backup compresses on one thread per block stream).
 *
 *   tsx bench/backup-bench.ts [--size-mib 1024] [--data-mib 768] [--concurrency 4] [--targets dir,minio,nfs]
 *
 * `nfs` is a real NFS-Ganesha on this machine (test/backup/nfs-server.ts), reached through lh-nfs.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createBackup } from '../src/backup/create-backup.js';
import { restoreBackup } from '../src/backup/restore-backup.js';
import { StoreSnapshotSource } from '../src/backup/snapshot-source.js';
import type { BackupTarget } from '../src/backup/target.js';
import { openTarget } from '../src/backup/target-url.js';
import { Replica } from '../src/replica/index.js';
import { MinioServer } from '../test/backup/minio-server.js';
import { NfsServer } from '../test/backup/nfs-server.js';

const MiB = 1 << 20;
const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '1024' },
    'data-mib': { type: 'string', default: '768' },
    concurrency: { type: 'string', default: '4' },
    targets: { type: 'string', default: 'dir,minio' },
  },
});
const size = Number(values['size-mib']) * MiB;
const data = Number(values['data-mib']) * MiB;
const concurrency = Number(values.concurrency);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lh-backup-bench-'));

/** Half random, half text (every block distinct, so nothing deduplicates). */
function block(i: number): Buffer {
  if (i % 2 === 0) return randomBytes(2 * MiB);
  const line = `block ${i} of the benchmark volume: some compressible text for lz4 `;
  return Buffer.from(line.repeat(Math.ceil((2 * MiB) / line.length))).subarray(0, 2 * MiB);
}

interface Row {
  target: string;
  backupMiBs: number;
  restoreMiBs: number;
  /** The same without the lock's 2 s settle (the data phase alone). */
  backupDataMiBs: number;
  restoreDataMiBs: number;
  incrementalSeconds: number;
  uploadedMiB: number;
  full: Record<string, number>;
  incremental: Record<string, number>;
}

async function run(): Promise<void> {
  const replica = await Replica.create(path.join(work, 'replica'), { size });
  const raw = path.join(work, 'raw.img');
  const fd = fs.openSync(raw, 'w');
  for (let i = 0; i < data / (2 * MiB); i++) {
    const b = block(i);
    await replica.write(i * 2 * MiB, b);
    fs.writeSync(fd, b);
  }
  fs.closeSync(fd);
  await replica.snapshot('s1');

  // Anchor: single-threaded lz4 over the same bytes (file to file, page cache warm).
  spawnSync('cat', [raw], { stdio: ['ignore', 'ignore', 'ignore'] });
  const t0 = performance.now();
  spawnSync('lz4', ['-1', '-f', '-q', raw, `${raw}.lz4`]);
  const lz4MiBs = data / MiB / ((performance.now() - t0) / 1000);
  fs.rmSync(raw);
  fs.rmSync(`${raw}.lz4`, { force: true });

  const rows: Row[] = [];
  const minio = new MinioServer();
  const nfs = new NfsServer();
  try {
    for (const kind of values.targets.split(',')) {
      let target: BackupTarget;
      if (kind === 'dir') {
        fs.mkdirSync(path.join(work, 'store'));
        target = openTarget(path.join(work, 'store'));
      } else if (kind === 'nfs') {
        await nfs.start();
        target = openTarget(nfs.url);
      } else {
        await minio.start();
        target = openTarget('s3://backups@us-east-1/bench', minio.credentials());
      }
      const volume = `bench-${kind}`;
      // Same 1% change for each target: reset the chain to s1 first.
      const source = new StoreSnapshotSource(replica);
      const full = await createBackup({ target, source, volume, snapshot: 's1', concurrency });
      const restoreFile = path.join(work, `restore-${kind}.img`);
      const fh = await fs.promises.open(restoreFile, 'w');
      await fh.truncate(size);
      const r = await restoreBackup({
        target,
        volume,
        backup: full.backup.Name,
        concurrency,
        sink: { write: async (off, d) => void (await fh.write(d, 0, d.length, off)) },
      });
      await fh.close();
      fs.rmSync(restoreFile);
      const snap2 = `s2-${kind}`;
      await replica.revert('s1');
      await replica.write(Math.floor(data / 3 / MiB) * MiB, randomBytes(Math.ceil(data / 100 / 4096) * 4096));
      await replica.snapshot(snap2);
      const inc = await createBackup({ target, source, volume, snapshot: snap2, concurrency });
      rows.push({
        target: kind,
        backupMiBs: round(data / MiB / (full.stats.elapsedMs / 1000)),
        restoreMiBs: round(data / MiB / (r.elapsedMs / 1000)),
        backupDataMiBs: round(data / MiB / ((full.stats.elapsedMs - full.stats.lockMs) / 1000)),
        restoreDataMiBs: round(data / MiB / ((r.elapsedMs - r.lockMs) / 1000)),
        incrementalSeconds: round(inc.stats.elapsedMs / 1000),
        uploadedMiB: round(full.stats.bytesUploaded / MiB),
        full: { ...full.stats.requests },
        incremental: { ...inc.stats.requests },
      });
      await target.close();
    }
  } finally {
    await minio.stop();
    await nfs.stop();
    await replica.close();
  }

  console.log(
    `backupstore: ${data / MiB} MiB of data in a ${size / MiB} MiB volume, lz4, ${concurrency} workers; lock settle 2 s included`,
  );
  console.log(
    'target  backup MiB/s  restore MiB/s  incr. 1% (s)  uploaded MiB  requests full (LIST/PUT/GET/HEAD)  incr.',
  );
  for (const r of rows) {
    const q = (x: Record<string, number>) => `${x.list}/${x.put}/${x.get}/${x.head}`;
    console.log(
      `${r.target.padEnd(7)} ${`${r.backupMiBs} (${r.backupDataMiBs})`.padStart(23)} ${`${r.restoreMiBs} (${r.restoreDataMiBs})`.padStart(24)} ${String(r.incrementalSeconds).padStart(13)} ${String(r.uploadedMiB).padStart(13)}  ${q(r.full).padStart(34)}  ${q(r.incremental)}`,
    );
  }
  console.log(`anchor: lz4 CLI single-threaded over the same bytes: ${round(lz4MiBs)} MiB/s`);
  for (const r of rows) console.log(`${r.target}: backup ${round(r.backupMiBs / lz4MiBs)}x the lz4 CLI`);
  console.log(JSON.stringify({ bench: 'backup', size, data, concurrency, lz4MiBs: round(lz4MiBs), rows }));
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

run()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => fs.rmSync(work, { recursive: true, force: true }));
