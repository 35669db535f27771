import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupListEntry } from '../../src/backup/list-backups.js';
import { freePort } from '../../src/cli/detached-process.js';
import { LocalVolume, longhornLocal, REPO, sh } from '../volume/cli.js';
import { MinioServer } from './minio-server.js';

const MiB = 1 << 20;

/** The hex key in a key file, as it appears there. */
const randomBytesHex = (file: string) => readFileSync(file, 'utf8').trim();
const TARGET = 's3://backups@us-east-1/local';

/**
 * The local tool end to end: volumes on simulated nodes, a real MinIO, real NBD clients
 * (nbdcopy, qemu-img). Backups read a snapshot from a replica server; restores bring up a new
 * volume; a backup process killed mid-way leaves the store usable.
 */
describe('longhorn-local volume backup / backup list / volume up --from-backup', () => {
  const minio = new MinioServer();
  const work = mkdtempSync(join(tmpdir(), 'lh-bk-tool-'));
  const creds = join(work, 'minio.env');
  const source = new LocalVolume();
  const restored: LocalVolume[] = [];
  let first = '';

  beforeAll(async () => {
    await minio.start();
    writeFileSync(creds, `# Longhorn's backup target Secret keys\n${minio.credentialsFile()}`);
    await source.up(2, '64MiB');
    const img = join(work, 'data.img');
    writeFileSync(img, randomBytes(40 * MiB));
    await sh('nbdcopy', [img, source.uri]);
  }, 180_000);

  afterAll(async () => {
    for (const v of [source, ...restored]) await v.down().catch(() => {});
    await minio.stop();
    rmSync(work, { recursive: true, force: true });
  }, 180_000);

  async function list(): Promise<BackupListEntry[]> {
    return JSON.parse(
      await longhornLocal('backup', 'list', '--target', TARGET, '--credentials', creds, '-o', 'json'),
    );
  }

  async function restoreAndCompare(url: string, credentials = creds): Promise<void> {
    const v = new LocalVolume();
    restored.push(v);
    const out = await longhornLocal(
      'volume',
      'up',
      '--dir',
      v.dir,
      '--from-backup',
      url,
      '--credentials',
      credentials,
      '--replicas',
      '2',
    );
    v.uri = out.trim().split('\n').at(-1)!;
    expect(v.uri).toMatch(/^nbd:\/\//);
    const { stdout } = await sh('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', source.uri, v.uri]);
    expect(stdout).toContain('Images are identical');
    await v.down();
  }

  it('backs up a new snapshot to MinIO, prints the URL last, lists it, restores byte-identical', async () => {
    const out = await source.cli('backup', 'create', '--target', TARGET, '--credentials', creds);
    first = out.trim().split('\n').at(-1)!;
    expect(first).toMatch(/^s3:\/\/backups@us-east-1\/local\?backup=backup-[0-9a-f]{16}&volume=vol$/);
    const entries = await list();
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      volume: 'vol',
      url: first,
      state: 'Completed',
      incremental: false,
      size: 40 * MiB,
      volumeSize: 64 * MiB,
      compression: 'lz4',
      blocks: 20,
    });
    await restoreAndCompare(first);
  }, 180_000);

  it('a backup killed mid-way leaves the store consistent; the next one succeeds and restores', async () => {
    await sh('qemu-io', ['-f', 'raw', '-c', 'write -P 0x3c 0 24M', source.uri]);
    const child = spawn(
      process.execPath,
      [
        join(REPO, 'bin', 'longhorn-local.js'),
        'volume',
        'backup',
        'create',
        '--dir',
        source.dir,
        '--target',
        TARGET,
        '--credentials',
        creds,
        '--concurrency',
        '1',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_, sig) => r(sig)));
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (d) => {
        stderr += d;
        const m = /backup (\d+)%/.exec(
          stderr
            .split('\n')
            .filter((l) => /^backup \d+%/.test(l))
            .at(-1) ?? '',
        );
        if (m && Number(m[1]) > 0 && Number(m[1]) < 100) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.once('exit', () => reject(new Error(`backup ended before it could be killed: ${stderr}`)));
    });
    expect(await exited).toBe('SIGKILL');

    const entries = await list();
    const killed = entries.find((e) => e.url !== first)!;
    expect(entries.find((e) => e.url === first)?.state).toBe('Completed');
    expect(killed.state).toBe('InProgress');
    // Its lock is still fresh (Longhorn's 150 s expiry): a deletion is refused, not half done.
    await expect(longhornLocal('backup', 'delete', killed.url, '--credentials', creds)).rejects.toThrow(
      /backup volume vol is locked by lock-[0-9a-f]{16} \(a backup or restore\)/,
    );

    const out = await source.cli('backup', 'create', '--target', TARGET, '--credentials', creds);
    const next = out.trim().split('\n').at(-1)!;
    const after = await list();
    expect(after.find((e) => e.url === next)).toMatchObject({
      state: 'Completed',
      incremental: true,
      blocks: 20,
    });
    await restoreAndCompare(next);
  }, 240_000);

  it('SIGTERM cancels a backup: no cfg and no lock of it are left', async () => {
    await sh('qemu-io', ['-f', 'raw', '-c', 'write -P 0x5d 8M 30M', source.uri]);
    const before = await list();
    const child = spawn(
      process.execPath,
      [
        join(REPO, 'bin', 'longhorn-local.js'),
        'volume',
        'backup',
        'create',
        '--dir',
        source.dir,
        '--target',
        TARGET,
        '--credentials',
        creds,
        '--concurrency',
        '1',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.stderr!.on('data', (d) => {
      stderr += d;
      if (/backup [1-9]\d?%/.test(stderr) && !child.killed) child.kill('SIGTERM');
    });
    expect(await exited).toBe(1);
    expect(stderr).toMatch(/backup backup-[0-9a-f]{16} of vol cancelled/);
    expect((await list()).map((e) => e.url).sort()).toEqual(before.map((e) => e.url).sort());
    const s3 = minio.client();
    try {
      const locks = await s3.send(
        new ListObjectsV2Command({ Bucket: 'backups', Prefix: 'local/backupstore/volumes/' }),
      );
      // Only the SIGKILLed backup's lock is left (it expires after 150 s, as Longhorn's).
      expect((locks.Contents ?? []).filter((c) => c.Key!.endsWith('.lck'))).toHaveLength(1);
    } finally {
      s3.destroy();
    }
  }, 120_000);

  it('an encrypted backup (CRYPTO_KEY_VALUE in the credentials file) restores with its key only', async () => {
    const store = join(work, 'crypt-store');
    mkdirSync(store);
    const keyFile = join(work, 'crypt.env');
    writeFileSync(keyFile, 'CRYPTO_KEY_VALUE=a passphrase for the backups\n');
    const wrongFile = join(work, 'wrong.env');
    writeFileSync(wrongFile, 'CRYPTO_KEY_VALUE=another passphrase entirely\n');
    const out = await source.cli('backup', 'create', '--target', `vfs://${store}`, '--credentials', keyFile);
    const url = out.trim().split('\n').at(-1)!;
    const v = new LocalVolume();
    restored.push(v);
    await expect(
      longhornLocal('volume', 'up', '--dir', v.dir, '--from-backup', url, '--credentials', wrongFile),
    ).rejects.toThrow(
      /wrong encryption key for backup volume vol: it was encrypted with key [0-9a-f]{16}, this key is [0-9a-f]{16}/,
    );
    await expect(longhornLocal('volume', 'up', '--dir', v.dir, '--from-backup', url)).rejects.toThrow(
      /backup volume vol is encrypted \(aes-256-gcm\): give its key/,
    );
    await restoreAndCompare(url, keyFile);
  }, 180_000);

  it('an engine-encrypted volume’s backup carries its key record: restored with its key file it reads back; without it, with another key or into a plain volume refused', async () => {
    const enc = new LocalVolume();
    restored.push(enc);
    const kek = join(work, 'kek.hex');
    writeFileSync(kek, `${randomBytes(32).toString('hex')}\n`);
    const otherKek = join(work, 'other-kek.hex');
    writeFileSync(otherKek, `${randomBytes(32).toString('hex')}\n`);
    const up = await longhornLocal(
      ...['volume', 'up', '--dir', enc.dir, '--replicas', '1', '--size', '16MiB'],
      ...['--encrypt', '--key-file', kek, '--name', 'encvol'],
    );
    enc.uri = up.trim().split('\n').at(-1)!;
    const img = join(work, 'enc-data.img');
    const data = randomBytes(6 * MiB);
    writeFileSync(img, data);
    await sh('nbdcopy', [img, enc.uri]);
    const store = join(work, 'enc-store');
    mkdirSync(store);
    const url = (await enc.cli('backup', 'create', '--target', `vfs://${store}`)).trim().split('\n').at(-1)!;
    const cfgText = await sh('sh', ['-c', `cat ${store}/backupstore/volumes/*/*/encvol/backups/*.cfg`]);
    const cfg = JSON.parse(cfgText.stdout) as { Parameters: Record<string, string> };
    const record = JSON.parse(cfg.Parameters['longhorn-ts.io/volume-key-record']!);
    expect(record).toMatchObject({ kek: { provider: 'key-file' }, envelope: { cipher: 'aes-256-xts' } });
    expect(cfgText.stdout).not.toContain(randomBytesHex(kek));

    const v = new LocalVolume();
    restored.push(v);
    await expect(longhornLocal('volume', 'up', '--dir', v.dir, '--from-backup', url)).rejects.toThrow(
      /backup backup-[0-9a-f]+ was taken of an encrypted volume \(its blocks are ciphertext\): give --key-file FILE/,
    );
    await expect(
      longhornLocal('volume', 'up', '--dir', v.dir, '--from-backup', url, '--key-file', otherKek),
    ).rejects.toThrow(/backup backup-[0-9a-f]+/);
    const out = await longhornLocal(
      ...['volume', 'up', '--dir', v.dir, '--from-backup', url, '--key-file', kek, '--replicas', '1'],
    );
    v.uri = out.trim().split('\n').at(-1)!;
    const back = join(work, 'enc-back.img');
    await sh('nbdcopy', [v.uri, back]);
    expect(readFileSync(back).subarray(0, data.length).equals(data)).toBe(true);
    // The restored volume is encrypted with that key: info says so, and it restarts with it.
    expect(JSON.parse(await v.cli('info', '-o', 'json'))).toMatchObject({ encrypted: true });
    await v.down();
    // A plain volume's backup given a key: refused.
    const plain = (await source.cli('backup', 'create', '--target', `vfs://${store}`))
      .trim()
      .split('\n')
      .at(-1)!;
    const p = new LocalVolume();
    restored.push(p);
    await expect(
      longhornLocal('volume', 'up', '--dir', p.dir, '--from-backup', plain, '--key-file', kek),
    ).rejects.toThrow(
      /was taken of a volume without encryption: restore it without --key-file or --crypto-secret/,
    );
  }, 180_000);

  it('wrong credentials, an unreachable target and bad input give clear errors', async () => {
    const bad = join(work, 'bad.env');
    writeFileSync(
      bad,
      minio.credentialsFile().replace(/AWS_SECRET_ACCESS_KEY=.*/, 'AWS_SECRET_ACCESS_KEY=wrong'),
    );
    await expect(longhornLocal('backup', 'list', '--target', TARGET, '--credentials', bad)).rejects.toThrow(
      /backup target s3:\/\/backups@us-east-1\/local: credentials refused \(SignatureDoesNotMatch\)/,
    );
    const down = join(work, 'down.env');
    const port = await freePort('127.0.0.1');
    writeFileSync(
      down,
      minio.credentialsFile().replace(/AWS_ENDPOINTS=.*/, `AWS_ENDPOINTS=http://127.0.0.1:${port}`),
    );
    await expect(source.cli('backup', 'create', '--target', TARGET, '--credentials', down)).rejects.toThrow(
      /unreachable \(ECONNREFUSED\)/,
    );
    await expect(
      longhornLocal('backup', 'list', '--target', TARGET, '--credentials', join(work, 'none.env')),
    ).rejects.toThrow(/cannot read credentials file .*none\.env/);
    await expect(
      source.cli('backup', 'create', '--target', TARGET, '--credentials', creds, '--snapshot', 'nope'),
    ).rejects.toThrow(/volume vol has no snapshot nope/);
    const v = new LocalVolume();
    await expect(
      longhornLocal(
        'volume',
        'up',
        '--dir',
        v.dir,
        '--from-backup',
        `${TARGET}?backup=backup-0000000000000000&volume=vol`,
        '--credentials',
        creds,
      ),
    ).rejects.toThrow(/no backup backup-0000000000000000 of volume vol/);
    await v.down();
    // Nothing of the refused calls is left in the store.
    expect((await list()).filter((e) => e.state === 'Completed')).toHaveLength(2);
  }, 120_000);
});
