import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RotationStatus } from '../../src/crypt/data-key-rotation.js';
import { parseKek } from '../../src/crypt/kek-material.js';
import { type KeyEnvelope, unwrapDataKey } from '../../src/crypt/key-envelope.js';
import { CRYPT_BLOCK, XtsCipher } from '../../src/crypt/xts-cipher.js';
import { EngineClient } from '../../src/engine/engine-client.js';
import { InstanceManagerClient } from '../../src/instance-manager/client.js';
import { parseReplicaAddress } from '../../src/net/replica-address.js';
import { ReplicaClient } from '../../src/protocol/index.js';
import { LocalVolume, sh } from './cli.js';

const MiB = 1 << 20;
const SIZE = 64 * MiB;
/** A plaintext no ciphertext will hold by chance: 32 printable bytes, repeated. */
const PATTERN = Buffer.from('LONGHORN-TS-ROTATION-MARK-0099\n\n');

interface Info {
  encrypted: boolean;
  dataKeyId?: string;
  previousDataKeyId?: string;
  dataKeyRotation?: RotationStatus;
  frontend: string;
}

interface StateFile {
  volume: string;
  encryption: KeyEnvelope & { dataKeyId?: string; previous?: KeyEnvelope & { dataKeyId: string } };
  engine: { node: string; control: string };
  nodes: { name: string; imAddress: string }[];
  replicas: { id: string; address: string }[];
}

function stateOf(vol: LocalVolume): StateFile {
  return JSON.parse(readFileSync(join(vol.dir, 'volume.json'), 'utf8')) as StateFile;
}

async function engineProcess(vol: LocalVolume) {
  const state = stateOf(vol);
  const node = state.nodes.find((n) => n.name === state.engine.node)!;
  const im = new InstanceManagerClient(node.imAddress);
  try {
    return await im.get('engine');
  } finally {
    im.close();
  }
}

/**
 * SIGKILLs the engine mid-rotation and waits for the instance manager's restart of it (with the
 * arguments of its first start, the old data key only) to be refused, not served with a wrong key.
 */
async function killEngineMidRotation(vol: LocalVolume): Promise<void> {
  process.kill((await engineProcess(vol)).pid, 'SIGKILL');
  await vol.waitFor(
    'the restarted engine to refuse the stale key',
    async () => /stale key arguments/.test((await engineProcess(vol)).error),
    60_000,
  );
}

/** Files under the volume's node directories (layers, metadata), logs aside, holding `needle`. */
function filesHolding(dir: string, needle: Buffer): string[] {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const ent of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, ent.name);
      if (ent.isDirectory() && ent.name !== 'logs') walk(p);
      else if (ent.isFile() && statSync(p).size <= 512 * MiB && readFileSync(p).includes(needle))
        hits.push(p);
    }
  };
  for (const ent of readdirSync(dir)) if (ent.startsWith('node-')) walk(join(dir, ent));
  return hits;
}

/**
 * Random writes through NBD (qemu-io, 16 per process, 1 B to 64 KiB at any offset, each a
 * repeated byte), applied to `model` once qemu-io reports them done; until `stop()`.
 */
async function writeWhile(vol: LocalVolume, model: Buffer, stop: () => boolean): Promise<number> {
  let n = 0;
  while (!stop()) {
    const batch: { offset: number; length: number; byte: number }[] = [];
    for (let i = 0; i < 16; i++) {
      const length = 1 + Math.floor(Math.random() * 64 * 1024);
      batch.push({
        offset: Math.floor(Math.random() * (SIZE - length)),
        length,
        byte: 0x61 + Math.floor(Math.random() * 26),
      });
    }
    const cmds = batch.flatMap((w) => ['-c', `write -P ${w.byte} ${w.offset} ${w.length}`]);
    await sh('qemu-io', ['-f', 'raw', ...cmds, '-c', 'flush', vol.uri]);
    for (const w of batch) model.fill(w.byte, w.offset, w.offset + w.length);
    n += batch.length;
  }
  return n;
}

async function info(vol: LocalVolume): Promise<Info> {
  return JSON.parse(await vol.cli('info', '-o', 'json')) as Info;
}

describe('data-key rotation of a running encrypted volume (longhorn-local volume rotate-key --data-key)', () => {
  const vol = new LocalVolume();
  const plain = new LocalVolume();
  const kekFile = join(vol.dir, 'kek.hex');
  const model = Buffer.alloc(SIZE);

  beforeAll(async () => {
    writeFileSync(kekFile, `${randomBytes(32).toString('hex')}\n`);
    await vol.up(3, '64MiB', '--encrypt', '--key-file', kekFile);
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled([vol.down(), plain.down()]);
  }, 120_000);

  it('re-encrypts while a writer writes, survives an engine SIGKILL midway, and drops the old key when done', async () => {
    // A known pattern over the first 48 MiB; the rest stays holes.
    for (let o = 0; o < 48 * MiB; o += PATTERN.length) PATTERN.copy(model, o);
    const src = join(vol.dir, 'pattern.bin');
    writeFileSync(src, model.subarray(0, 48 * MiB));
    await sh('nbdcopy', [src, vol.uri]);
    const before = stateOf(vol).encryption;
    const kek = parseKek(readFileSync(kekFile), kekFile);
    const oldKey = unwrapDataKey(before, kek);

    // 64 MiB at 4 MiB/s: ~16 s, time enough to write, kill and restart midway.
    const started = await vol.cli('rotate-key', '--data-key', '--bandwidth', String(4 * MiB));
    expect(started).toMatch(/re-encrypting from data key dk-[0-9a-f]{16} to dk-[0-9a-f]{16}/);
    const again = await vol.cli('rotate-key', '--data-key');
    expect(again).toMatch(/^already running: re-encrypting/);
    const during = stateOf(vol).encryption;
    expect(during.previous?.wrappedKey).toBe(before.wrappedKey);
    // A KEK rotation would leave the previous data key wrapped by the old KEK: refused meanwhile.
    const kek2 = join(vol.dir, 'kek2.hex');
    writeFileSync(kek2, `${randomBytes(32).toString('hex')}\n`);
    await expect(vol.cli('rotate-key', '--key-file', kekFile, '--new-key-file', kek2)).rejects.toThrow(
      /keeps the previous data key dk-/,
    );

    // Rotation mid-write: qemu-io writes all over the volume while the watermark moves.
    let stop = false;
    const writer = writeWhile(vol, model, () => stop);
    let reported = 0;
    await vol.waitFor('re-encryption to pass 25 %', async () => {
      const r = (await info(vol)).dataKeyRotation!;
      expect(r.state).toBe('running');
      expect(r.bytesTotal).toBe(SIZE);
      reported = r.bytesDone;
      return r.percent >= 25;
    });
    stop = true;
    expect(await writer).toBeGreaterThan(0);

    // The engine dies mid-rotation. The instance manager restarts it with the arguments of its
    // first start (the old data key only): that start is refused, not served with a wrong key.
    await killEngineMidRotation(vol);
    // Started again with the key record (both keys): it resumes from the recorded watermark.
    vol.uri = (await vol.cli('restart')).trim();
    const resumed = (await info(vol)).dataKeyRotation!;
    expect(resumed.state).toMatch(/running|done/);
    expect(resumed.bytesDone).toBeGreaterThanOrEqual(reported);
    expect(resumed.bytesDone).toBeLessThan(SIZE);

    // More writes after the restart, then let it finish.
    stop = false;
    const writer2 = writeWhile(vol, model, () => stop);
    await vol.waitFor(
      're-encryption to pass 75 %',
      async () => (await info(vol)).dataKeyRotation!.percent >= 75,
    );
    stop = true;
    await writer2;
    await vol.waitFor(
      're-encryption to finish',
      async () => (await info(vol)).dataKeyRotation!.state === 'done',
    );

    // Every byte reads back.
    const back = join(vol.dir, 'back.bin');
    await sh('nbdcopy', [vol.uri, back]);
    const got = readFileSync(back);
    expect(got.length).toBe(SIZE);
    expect(got.equals(model)).toBe(true);

    // The old key left the record (no snapshot uses it); the new one is what the engine serves.
    const done = await info(vol);
    expect(done.previousDataKeyId).toBeUndefined();
    expect(done.dataKeyRotation!.to).toBe(done.dataKeyId);
    const after = stateOf(vol).encryption;
    expect(after.previous).toBeUndefined();
    expect(after.wrappedKey).not.toBe(before.wrappedKey);
    const newKey = unwrapDataKey(after, kek);

    // No replica file holds the plaintext pattern, and each replica's data decrypts with the
    // new key only: every block of it, read straight from the replica.
    expect(filesHolding(vol.dir, PATTERN.subarray(0, 24))).toEqual([]);
    const fresh = new XtsCipher(newKey);
    const stale = new XtsCipher(oldKey);
    const zero = Buffer.alloc(CRYPT_BLOCK);
    for (const r of stateOf(vol).replicas) {
      const client = await ReplicaClient.connect(parseReplicaAddress(r.address), r.id, { connections: 1 });
      try {
        let bad = 0;
        let oldOk = 0;
        for (let off = 0; off < SIZE; off += 4 * MiB) {
          const ct = Buffer.from(await client.read(off, 4 * MiB));
          for (let o = 0; o < ct.length; o += CRYPT_BLOCK) {
            const block = ct.subarray(o, o + CRYPT_BLOCK);
            const want = model.subarray(off + o, off + o + CRYPT_BLOCK);
            if (block.equals(zero)) {
              if (!want.equals(zero)) bad++;
              continue;
            }
            const b = (off + o) / CRYPT_BLOCK;
            if (!fresh.decrypt(Buffer.from(block), b).equals(want)) bad++;
            if (stale.decrypt(Buffer.from(block), b).equals(want)) oldOk++;
          }
        }
        expect(bad, `replica ${r.id}: blocks not under the new key`).toBe(0);
        expect(oldOk, `replica ${r.id}: blocks the old key still opens`).toBe(0);
      } finally {
        await client.close();
      }
    }

    // A plain restart after the rotation serves the same bytes with the new key alone.
    vol.uri = (await vol.cli('restart')).trim();
    await sh('nbdcopy', [vol.uri, back]);
    expect(readFileSync(back).equals(model)).toBe(true);
  }, 300_000);

  it('keeps the previous key while a snapshot taken before the end is not deleted; refuses a revert onto it and another rotation meanwhile', async () => {
    // The volume is under one data key now (the test above); a snapshot of it, then a rotation.
    await vol.cli('snapshot', 'create', 'snap-before');
    const before = stateOf(vol).encryption;
    expect(await vol.cli('rotate-key', '--data-key')).toMatch(/re-encrypting from data key/);
    await vol.waitFor(
      're-encryption to finish',
      async () => (await info(vol)).dataKeyRotation!.state === 'done',
    );
    const done = await info(vol);
    expect(done.dataKeyRotation!.snapshotsUsingPrevious).toEqual(['snap-before']);
    expect(done.previousDataKeyId).toBe(before.dataKeyId);
    expect(stateOf(vol).encryption.previous?.wrappedKey).toBe(before.wrappedKey);
    await expect(vol.cli('snapshot', 'revert', 'snap-before')).rejects.toThrow(
      /snapshot snap-before was taken before .* reverting to it is refused/,
    );
    vol.uri = (await info(vol)).frontend;
    await expect(vol.cli('rotate-key', '--data-key')).rejects.toThrow(
      /snapshots snap-before still hold blocks under the previous data key/,
    );
    // Deleted, the snapshot is never read again: the key record lets the old key go.
    await vol.cli('snapshot', 'delete', 'snap-before');
    const settled = await info(vol);
    expect(settled.previousDataKeyId).toBeUndefined();
    expect(stateOf(vol).encryption.previous).toBeUndefined();
    await vol.cli('snapshot', 'purge');
    const back = join(vol.dir, 'back2.bin');
    await sh('nbdcopy', [vol.uri, back]);
    expect(readFileSync(back).equals(model)).toBe(true);
    // Restarted with the current key alone, the engine serves the same bytes.
    vol.uri = (await vol.cli('restart')).trim();
    await sh('nbdcopy', [vol.uri, back]);
    expect(readFileSync(back).equals(model)).toBe(true);
  }, 180_000);

  it('refuses to rotate the data key of an unencrypted volume, with a clear message', async () => {
    await plain.up(1, '16MiB');
    await expect(plain.cli('rotate-key', '--data-key')).rejects.toThrow(
      /volume vol is not encrypted; there is no data key to rotate/,
    );
    // The engine's own answer, asked directly: INVALID_ARGUMENT, the same words.
    const engine = new EngineClient(stateOf(plain).engine.control);
    try {
      await expect(
        engine.dataKeyRotate({ encryption: 'x', previousEncryption: 'y', kekFile: '/nonexistent' }),
      ).rejects.toMatchObject({ status: 3, message: expect.stringMatching(/vol is not encrypted/) });
    } finally {
      engine.close();
    }
  }, 120_000);
});

describe("data-key rotation resumed by an engine without the last one's state file", () => {
  const vol = new LocalVolume();
  const kekFile = join(vol.dir, 'kek.hex');

  afterAll(() => vol.down(), 120_000);

  it('goes on from the watermark the replicas hold (as an engine on another node would), and every byte reads back', async () => {
    writeFileSync(kekFile, `${randomBytes(32).toString('hex')}\n`);
    const size = 32 * MiB;
    await vol.up(3, '32MiB', '--encrypt', '--key-file', kekFile);
    const data = Buffer.alloc(size);
    for (let o = 0; o < size; o += PATTERN.length) PATTERN.copy(data, o);
    const src = join(vol.dir, 'pattern.bin');
    writeFileSync(src, data);
    await sh('nbdcopy', [src, vol.uri]);

    await vol.cli('rotate-key', '--data-key', '--bandwidth', String(2 * MiB));
    let reported = 0;
    await vol.waitFor('re-encryption to pass 25 %', async () => {
      const r = (await info(vol)).dataKeyRotation!;
      reported = r.bytesDone;
      return r.percent >= 25;
    });
    // The engine dies and its state file is gone with it: the next engine has only the replicas.
    await killEngineMidRotation(vol);
    rmSync(join(vol.dir, 'engine-members.json'));
    vol.uri = (await vol.cli('restart')).trim();
    const resumed = (await info(vol)).dataKeyRotation!;
    expect(resumed.state).toMatch(/running|done/);
    expect(resumed.bytesDone).toBeGreaterThanOrEqual(reported);
    await vol.waitFor(
      're-encryption to finish',
      async () => (await info(vol)).dataKeyRotation!.state === 'done',
    );

    const back = join(vol.dir, 'back.bin');
    await sh('nbdcopy', [vol.uri, back]);
    expect(readFileSync(back).equals(data)).toBe(true);
    const newKey = unwrapDataKey(stateOf(vol).encryption, parseKek(readFileSync(kekFile), kekFile));
    const fresh = new XtsCipher(newKey);
    for (const r of stateOf(vol).replicas) {
      const client = await ReplicaClient.connect(parseReplicaAddress(r.address), r.id, { connections: 1 });
      try {
        let bad = 0;
        for (let off = 0; off < size; off += 4 * MiB) {
          const ct = Buffer.from(await client.read(off, 4 * MiB));
          for (let o = 0; o < ct.length; o += CRYPT_BLOCK) {
            const plain = fresh.decrypt(
              Buffer.from(ct.subarray(o, o + CRYPT_BLOCK)),
              (off + o) / CRYPT_BLOCK,
            );
            if (!plain.equals(data.subarray(off + o, off + o + CRYPT_BLOCK))) bad++;
          }
        }
        expect(bad, `replica ${r.id}: blocks not under the new key`).toBe(0);
      } finally {
        await client.close();
      }
    }
  }, 180_000);
});

describe('data-key rotation of a volume whose KEK comes from a crypto secret file (passphrase)', () => {
  const vol = new LocalVolume();
  const secret = join(vol.dir, 'crypto-secret');

  afterAll(() => vol.down(), 120_000);

  it('re-encrypts with the KEK from the remembered file, and a restart after serves with the new key', async () => {
    writeFileSync(secret, 'CRYPTO_KEY_VALUE=a passphrase for the volume\nCRYPTO_PBKDF=pbkdf2\n');
    await vol.up(1, '16MiB', '--encrypt', '--crypto-secret', secret);
    const data = Buffer.alloc(16 * MiB);
    for (let o = 0; o < 12 * MiB; o += PATTERN.length) PATTERN.copy(data, o);
    const src = join(vol.dir, 'pattern.bin');
    writeFileSync(src, data);
    await sh('nbdcopy', [src, vol.uri]);
    // The wrong KEK source is refused by name before anything is saved.
    await expect(vol.cli('rotate-key', '--data-key', '--key-file', src)).rejects.toThrow(
      /its KEK comes from a crypto secret file/,
    );
    const before = stateOf(vol).encryption.wrappedKey;
    const res = JSON.parse(await vol.cli('rotate-key', '--data-key', '-o', 'json')) as {
      started: boolean;
      status: RotationStatus;
    };
    expect(res.started).toBe(true);
    await vol.waitFor(
      're-encryption to finish',
      async () => (await info(vol)).dataKeyRotation!.state === 'done',
    );
    expect(stateOf(vol).encryption.wrappedKey).not.toBe(before);
    expect(stateOf(vol).encryption.previous).toBeUndefined();
    vol.uri = (await vol.cli('restart')).trim();
    const back = join(vol.dir, 'back.bin');
    await sh('nbdcopy', [vol.uri, back]);
    expect(readFileSync(back).equals(data)).toBe(true);
    expect(filesHolding(vol.dir, PATTERN.subarray(0, 24))).toEqual([]);
  }, 180_000);
});
