import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalVolume, sh } from './cli.js';

const MiB = 1 << 20;

/** A plaintext no cipher output will ever contain by chance: 32 printable bytes, repeated. */
const PATTERN = Buffer.from('LONGHORN-TS-PLAINTEXT-MARK-0042\n');

/** Every regular file under the volume's node directories (layer files and metadata), logs aside. */
function replicaFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const ent of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, ent.name);
      if (ent.isDirectory() && ent.name !== 'logs') walk(p);
      else if (ent.isFile()) out.push(p);
    }
  };
  for (const ent of readdirSync(dir)) if (ent.startsWith('node-')) walk(join(dir, ent));
  return out;
}

/** Files holding the first 16 bytes of PATTERN, and how many non-zero bytes all files hold. */
function scan(dir: string): { hits: string[]; nonZero: number } {
  const needle = PATTERN.subarray(0, 16);
  const hits: string[] = [];
  let nonZero = 0;
  for (const file of replicaFiles(dir)) {
    if (statSync(file).size > 512 * MiB) throw new Error(`${file} is larger than this test expects`);
    const bytes = readFileSync(file);
    if (bytes.includes(needle)) hits.push(file);
    for (let i = 0; i < bytes.length; i += 512) if (bytes[i] !== 0) nonZero++;
  }
  return { hits, nonZero };
}

function patternFile(path: string, size: number): Buffer {
  const buf = Buffer.alloc(size);
  for (let o = 0; o < size; o += PATTERN.length) PATTERN.copy(buf, o);
  writeFileSync(path, buf);
  return buf;
}

interface Info {
  encrypted: boolean;
  cipher?: string;
  keyId?: string;
  robustness: string;
  io: { readOps: number; zeroCopyReads: number };
}

describe('an encrypted volume (longhorn-local volume up --encrypt, real NBD clients)', () => {
  const vol = new LocalVolume();
  const key1 = join(vol.dir, 'kek-1.bin');
  const key2 = join(vol.dir, 'kek-2.hex');
  const wrong = join(vol.dir, 'wrong.b64');

  beforeAll(async () => {
    writeFileSync(key1, randomBytes(32));
    writeFileSync(key2, `${randomBytes(32).toString('hex')}\n`);
    writeFileSync(wrong, `${randomBytes(32).toString('base64')}\n`);
    await vol.up(3, '128MiB', '--encrypt', '--key-file', key1);
  }, 120_000);

  afterAll(() => vol.down(), 120_000);

  it('says it is encrypted, with its cipher and key id', async () => {
    const info = JSON.parse(await vol.cli('info', '-o', 'json')) as Info;
    expect(info).toMatchObject({ encrypted: true, cipher: 'aes-256-xts', robustness: 'healthy' });
    expect(info.keyId).toMatch(/^kek-[0-9a-f]{16}$/);
    const state = readFileSync(join(vol.dir, 'volume.json'), 'utf8');
    expect(state).toContain(info.keyId);
    // volume.json holds the wrapped key only: neither the KEK nor anything 64 bytes long raw.
    expect(state).not.toContain(readFileSync(key1).toString('hex'));
    expect(state).not.toContain(readFileSync(key1).toString('base64'));
  });

  it('stores no plaintext in any replica file: a pattern written with nbdcopy reads back, and no file holds it', async () => {
    const src = join(vol.dir, 'pattern.bin');
    const data = patternFile(src, 8 * MiB);
    await sh('nbdcopy', [src, vol.uri]);
    // Unaligned writes of the pattern too (read-modify-write of partial blocks).
    await sh('qemu-io', ['-f', 'raw', '-c', `write -s ${src} ${64 * MiB + 1000} 10000`, vol.uri]);
    await sh('qemu-io', ['-f', 'raw', '-c', 'flush', vol.uri]);
    const back = join(vol.dir, 'back.bin');
    await sh('nbdcopy', [vol.uri, back]);
    const all = readFileSync(back);
    expect(all.subarray(0, 8 * MiB).equals(data)).toBe(true);
    expect(all.subarray(64 * MiB + 1000, 64 * MiB + 11000).equals(data.subarray(0, 10000))).toBe(true);
    expect(all.subarray(64 * MiB, 64 * MiB + 1000).equals(Buffer.alloc(1000))).toBe(true);
    // Never a read sent straight from a replica file: those hold ciphertext.
    const { io } = JSON.parse(await vol.cli('info', '-o', 'json')) as Info;
    expect(io.readOps).toBeGreaterThan(0);
    expect(io.zeroCopyReads).toBe(0);
    const { hits, nonZero } = scan(vol.dir);
    expect(hits).toEqual([]);
    // ...and the files did receive the data: 3 replicas x 8 MiB of ciphertext, at least.
    expect(nonZero * 512).toBeGreaterThan(3 * 8 * MiB * 0.99);
  }, 120_000);

  it('serves fio verify with unaligned random writes while replicas are killed and rebuilt', async () => {
    const fio = startFio(vol.uri);
    try {
      const modes = async () => (await vol.replicas()).map((r) => r.mode);
      const progress = async (what: string) => {
        const ios = fio.ios();
        await vol.waitFor(`fio to make progress (${what})`, async () => fio.ios() >= ios + 500, 120_000);
      };
      await progress('healthy');
      await vol.cli('kill-replica', '--index', '1');
      await vol.waitFor('replica 1 to be ERR', async () => (await modes())[1] === 'ERR');
      await progress('one replica down');
      await vol.cli('add-replica');
      await vol.cli('kill-replica', '--index', '2');
      await vol.waitFor('replica 2 to be ERR', async () => (await modes())[2] === 'ERR');
      await vol.cli('add-replica');
      expect(fio.child.exitCode, 'fio still ran through both rebuilds').toBeNull();
      await progress('after both rebuilds');
      fio.child.kill('SIGINT');
      const result = await fio.done;
      const job = fioReports(result.out).at(-1)!.jobs[0]!;
      expect(job.error, result.err.slice(-2000)).toBe(0);
      expect(job.write.total_ios).toBeGreaterThan(1000);
      expect(job.read.total_ios).toBeGreaterThan(100);
      expect(result.err).not.toMatch(/verify: bad|verify failed/i);
      const rows = await vol.replicas();
      const rw = rows.filter((r) => r.mode === 'RW');
      expect(rw.map((r) => r.index)).toEqual([0, 3, 4]);
      // Same ciphertext on every replica (the rebuilt ones got it by copying ciphertext).
      const hashes = await Promise.all(rw.map((r) => vol.replicaHash(r, 128 * MiB)));
      expect(new Set(hashes).size).toBe(1);
      expect(scan(vol.dir).hits).toEqual([]);
    } finally {
      fio.child.kill('SIGKILL');
    }
  }, 300_000);

  it('restarts with its key file; refuses a wrong key and a missing one by key id; rotates the KEK', async () => {
    const keyId = (JSON.parse(await vol.cli('info', '-o', 'json')) as Info).keyId!;
    const check = async (uri: string) => {
      const back = join(vol.dir, 'check.bin');
      await sh('nbdcopy', [uri, back]);
      expect(
        readFileSync(back)
          .subarray(0, 8 * MiB)
          .equals(readFileSync(join(vol.dir, 'pattern.bin'))),
      ).toBe(true);
    };
    await check(await vol.cli('restart', '--key-file', key1).then((o) => o.trim()));

    await expect(vol.cli('restart', '--key-file', wrong)).rejects.toThrow(
      new RegExp(
        `volume vol is encrypted with key ${keyId}; the key given is kek-[0-9a-f]{16}, not that key`,
      ),
    );
    await expect(vol.cli('restart', '--key-file', join(vol.dir, 'gone.key'))).rejects.toThrow(
      `volume vol is encrypted with key ${keyId}; key file ${join(vol.dir, 'gone.key')}: no such file`,
    );
    // The refused starts left the engine down and the data as it was: the right key serves it.
    await check(await vol.cli('restart', '--key-file', key1).then((o) => o.trim()));

    // KEK rotation: the data key re-wrapped, the old KEK no longer opens the volume.
    await expect(vol.cli('rotate-key', '--key-file', wrong, '--new-key-file', key2)).rejects.toThrow(
      `volume vol is encrypted with key ${keyId}`,
    );
    const out = await vol.cli('rotate-key', '--key-file', key1, '--new-key-file', key2);
    const newId = /key (kek-[0-9a-f]{16})/.exec(out)![1]!;
    expect(newId).not.toBe(keyId);
    expect((JSON.parse(await vol.cli('info', '-o', 'json')) as Info).keyId).toBe(newId);
    await expect(vol.cli('restart', '--key-file', key1)).rejects.toThrow(
      `volume vol is encrypted with key ${newId}; the key given is ${keyId}, not that key`,
    );
    await check(await vol.cli('restart', '--key-file', key2).then((o) => o.trim()));
    // Without --key-file the one that last worked is used.
    await check(await vol.cli('restart').then((o) => o.trim()));
  }, 180_000);

  it('comes back after the engine is SIGKILLed (its instance manager restarts it with the key) and grows online', async () => {
    // Replica 0 lives in the engine process: killing it kills the engine.
    await vol.cli('kill-replica', '--index', '0');
    let uri = '';
    await vol.waitFor(
      'the engine to serve again',
      async () => {
        const info = JSON.parse(await vol.cli('info', '-o', 'json')) as Info & { frontend: string };
        uri = info.frontend;
        return info.encrypted && uri !== '';
      },
      120_000,
    );
    const back = join(vol.dir, 'after-crash.bin');
    await sh('nbdcopy', [uri, back]);
    expect(
      readFileSync(back)
        .subarray(0, 8 * MiB)
        .equals(readFileSync(join(vol.dir, 'pattern.bin'))),
    ).toBe(true);

    await vol.cli('expand', '--size', '160MiB');
    const tail = randomBytes(5000);
    const tailFile = join(vol.dir, 'tail.bin');
    writeFileSync(tailFile, tail);
    // The last 5000 bytes of the grown volume: a partial block at each end of the range.
    await sh('qemu-io', ['-f', 'raw', '-c', `write -s ${tailFile} ${160 * MiB - 5000} 5000`, uri]);
    const grown = join(vol.dir, 'grown.bin');
    await sh('nbdcopy', [uri, grown]);
    const bytes = readFileSync(grown);
    expect(bytes.length).toBe(160 * MiB);
    expect(bytes.subarray(160 * MiB - 5000).equals(tail)).toBe(true);
    expect(bytes.subarray(128 * MiB, 160 * MiB - 5000).equals(Buffer.alloc(32 * MiB - 5000))).toBe(true);
    expect(scan(vol.dir).hits).toEqual([]);
  }, 180_000);
});

describe('encryption flags and key material refused before anything starts', () => {
  const vol = new LocalVolume();
  afterAll(() => vol.down(), 60_000);

  it.each([
    [
      'a short key',
      randomBytes(20),
      /a key-encryption key is 32 bytes, raw or as 64 hex digits or 44 base64 characters; got 20 bytes/,
    ],
    ['hex with a typo', Buffer.from(`${'ab'.repeat(31)}zz\n`), /got 65 bytes that are none of these/],
    ['an all-zero key', Buffer.alloc(32), /the key is all zeros/],
  ])('%s', async (_, material, message) => {
    const file = join(vol.dir, 'bad.key');
    writeFileSync(file, material);
    await expect(vol.up(1, '16MiB', '--encrypt', '--key-file', file)).rejects.toThrow(message);
    expect(existsSync(join(vol.dir, 'volume.json'))).toBe(false);
  });

  it('--encrypt without --key-file, and the other way round', async () => {
    await expect(vol.up(1, '16MiB', '--encrypt')).rejects.toThrow(
      '--encrypt and --key-file FILE go together',
    );
    await expect(vol.up(1, '16MiB', '--key-file', '/dev/null')).rejects.toThrow('go together');
    expect(existsSync(join(vol.dir, 'volume.json'))).toBe(false);
  });
});

describe('the plaintext scan finds the pattern on a plain volume (the scan itself works)', () => {
  const vol = new LocalVolume();
  afterAll(() => vol.down(), 60_000);

  it('finds it in a replica file', async () => {
    await vol.up(1, '16MiB');
    const src = join(vol.dir, 'pattern.bin');
    patternFile(src, MiB);
    await sh('nbdcopy', [src, vol.uri]);
    expect(scan(vol.dir).hits.length).toBeGreaterThan(0);
    // The same read-back as above: here reads do leave straight from the replica's file.
    await sh('nbdcopy', [vol.uri, join(vol.dir, 'back.bin')]);
    const info = JSON.parse(await vol.cli('info', '-o', 'json')) as Info;
    expect(info.encrypted).toBe(false);
    expect(info.io.zeroCopyReads).toBeGreaterThan(0);
  }, 60_000);
});

interface FioJob {
  error: number;
  read: { total_ios: number };
  write: { total_ios: number };
}

function fioReports(out: string): { jobs: FioJob[] }[] {
  return [...out.matchAll(/^\{\n[\s\S]*?^\}$/gm)].map((m) => JSON.parse(m[0]));
}

/**
 * fio with crc32c verification through the nbd engine until SIGINT: random writes of 512 B to
 * 64 KiB at 512-byte offsets (most of them partial 4 KiB blocks, neighbours in flight together).
 */
function startFio(uri: string) {
  const child: ChildProcess = spawn(
    'fio',
    [
      '--ioengine=nbd',
      `--uri=${uri}`,
      '--name=crypt',
      '--rw=randwrite',
      '--bsrange=512-64k',
      '--iodepth=16',
      `--offset=${16 * MiB}`,
      `--size=${32 * MiB}`,
      '--runtime=900',
      '--time_based',
      '--verify=crc32c',
      '--verify_fatal=1',
      '--do_verify=1',
      '--verify_backlog=256',
      '--verify_state_save=0',
      '--output-format=json',
      '--status-interval=1',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const done = new Promise<{ out: string; err: string }>((resolve) =>
    child.on('close', () => resolve({ out, err })),
  );
  const ios = () => {
    const last = fioReports(out).at(-1);
    return last ? last.jobs.reduce((n, j) => n + j.write.total_ios, 0) : 0;
  };
  return { child, done, ios };
}
