import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { CryptBlockDevice } from '../../src/crypt/crypt-device.js';
import { dataKeyId, planResume, type RotationRecord } from '../../src/crypt/data-key-rotation.js';
import { newDataKey, wrapDataKey } from '../../src/crypt/key-envelope.js';
import { DataKeyRotator } from '../../src/crypt/rotation-job.js';
import { CRYPT_BLOCK, XtsCipher } from '../../src/crypt/xts-cipher.js';
import { waitFor } from '../wait-for.js';
import { MemoryDevice } from './memory-device.js';

const MiB = 1 << 20;
const SIZE = 6 * MiB + 12 * CRYPT_BLOCK;
const log = pino({ level: 'silent' });

/** A MemoryDevice that can "die" like an engine killed mid-chunk: writes stop landing. */
class CrashableDevice extends MemoryDevice {
  dead = false;
  /** Called before each write lands; may kill the device (optionally after half of that write). */
  beforeWrite: ((offset: number, length: number) => 'ok' | 'die' | 'die-half') | null = null;

  override async write(offset: number, data: Buffer): Promise<void> {
    if (this.dead) throw new Error('engine gone');
    const verdict = this.beforeWrite?.(offset, data.length) ?? 'ok';
    if (verdict === 'die-half') {
      Buffer.from(data.subarray(0, data.length / 2)).copy(this.data, offset);
      this.dead = true;
    }
    if (verdict !== 'ok') {
      this.dead = true;
      throw new Error('engine gone');
    }
    await super.write(offset, data);
  }

  override async read(offset: number, length: number): Promise<Buffer> {
    if (this.dead) throw new Error('engine gone');
    return super.read(offset, length);
  }
}

/** One "engine": the crypt layer and the rotator over `inner`, records kept in `store`. */
function engineOver(
  inner: MemoryDevice,
  keys: { current: Buffer; previous?: Buffer },
  store: { record?: RotationRecord; saves: number },
  failSave?: (r: RotationRecord) => boolean,
) {
  const plan = planResume(
    'vol',
    { current: dataKeyId(keys.current), ...(keys.previous ? { previous: dataKeyId(keys.previous) } : {}) },
    store.record,
  );
  if (plan.kind === 'refuse') throw new Error(plan.reason);
  const dev =
    plan.kind === 'run' && keys.previous
      ? new CryptBlockDevice(
          inner,
          { current: keys.current, previous: keys.previous, watermark: plan.record.watermark },
          'vol',
        )
      : new CryptBlockDevice(inner, keys.current, 'vol');
  let snapshots: string[] = [];
  const rotator = new DataKeyRotator(
    {
      volume: 'vol',
      device: dev,
      save: async (r) => {
        if (failSave?.(r)) throw new Error('engine gone');
        store.record = structuredClone(r);
        store.saves++;
      },
      snapshots: async () => snapshots,
      log,
      // The cases below are laid out in 1 MiB chunks (a hole chunk, a crash in the fourth).
      chunkBytes: MiB,
    },
    dataKeyId(keys.current),
    plan.kind === 'run' || plan.kind === 'done' ? plan.record : undefined,
  );
  return { dev, rotator, setSnapshots: (s: string[]) => (snapshots = s) };
}

/** Every non-hole block of `inner` decrypts with `key` to `model`; holes are zero in the model. */
function expectUnder(inner: MemoryDevice, key: Buffer, model: Buffer): void {
  const cipher = new XtsCipher(key);
  const zero = Buffer.alloc(CRYPT_BLOCK);
  let bad = 0;
  for (let b = 0; b < inner.data.length / CRYPT_BLOCK; b++) {
    const ct = inner.data.subarray(b * CRYPT_BLOCK, (b + 1) * CRYPT_BLOCK);
    const want = model.subarray(b * CRYPT_BLOCK, (b + 1) * CRYPT_BLOCK);
    const got = ct.equals(zero) ? zero : cipher.decrypt(Buffer.from(ct), b);
    if (!got.equals(want)) bad++;
  }
  expect(bad, 'blocks that do not decrypt to the model with the new key').toBe(0);
}

/** Random writes (aligned and not) of random bytes, applied to `model` too. */
async function writer(
  dev: CryptBlockDevice,
  model: Buffer,
  until: () => boolean,
  max = 400,
): Promise<number> {
  let n = 0;
  while (!until() && n < max) {
    const length = 1 + Math.floor(Math.random() * 3 * CRYPT_BLOCK);
    const offset = Math.floor(Math.random() * (SIZE - length));
    const data = randomBytes(length);
    data.copy(model, offset);
    await dev.write(offset, Buffer.from(data), false);
    n++;
  }
  return n;
}

function fill(dev: CryptBlockDevice, model: Buffer): Promise<void> {
  // Data in most of the volume, a hole in the middle and at the end.
  const data = randomBytes(SIZE);
  data.fill(0, 2 * MiB, 3 * MiB);
  data.fill(0, SIZE - 4 * CRYPT_BLOCK);
  data.copy(model);
  return (async () => {
    await dev.write(0, data.subarray(0, 2 * MiB), false);
    await dev.write(3 * MiB, data.subarray(3 * MiB, SIZE - 4 * CRYPT_BLOCK), false);
  })();
}

function rotateReq(oldKey: Buffer, newKey: Buffer) {
  const kek = randomBytes(32);
  return { current: wrapDataKey(newKey, kek), previous: wrapDataKey(oldKey, kek), kek };
}

describe('data-key rotation over the crypt layer (in memory)', () => {
  it('re-encrypts online while a writer keeps writing: every byte reads back, all under the new key, holes stay holes', async () => {
    const inner = new MemoryDevice(SIZE);
    inner.jitter = true;
    const oldKey = newDataKey();
    const newKey = newDataKey();
    const store: { record?: RotationRecord; saves: number } = { saves: 0 };
    const { dev, rotator } = engineOver(inner, { current: oldKey }, store);
    const model = Buffer.alloc(SIZE);
    await fill(dev, model);
    const status = await rotator.rotate(rotateReq(oldKey, newKey));
    expect(status).toMatchObject({ state: 'running', from: dataKeyId(oldKey), to: dataKeyId(newKey) });
    // Asked again while it runs: its status, not a second rotation.
    expect((await rotator.rotate(rotateReq(oldKey, newKey))).state).toBe('running');
    await expect(rotator.rotate(rotateReq(oldKey, newDataKey()))).rejects.toThrow(/is running/);
    let done = false;
    const writes = await Promise.all([
      writer(dev, model, () => done),
      (async () => {
        await waitFor('the rotation to finish', async () => (await rotator.status()).state === 'done', {
          timeoutMs: 60_000,
        });
        done = true;
      })(),
    ]);
    expect(writes[0]).toBeGreaterThan(10);
    expect(dev.rotationWatermark).toBe(Number.POSITIVE_INFINITY);
    expect((await dev.read(0, SIZE)).equals(model)).toBe(true);
    expectUnder(inner, newKey, model);
    // The never-written range is still all zeros below (unless the writer wrote there).
    const tail = inner.data.subarray(SIZE - CRYPT_BLOCK);
    if (model.subarray(SIZE - CRYPT_BLOCK).equals(Buffer.alloc(CRYPT_BLOCK)))
      expect(tail.equals(Buffer.alloc(CRYPT_BLOCK))).toBe(true);
    expect(store.record).toMatchObject({ to: dataKeyId(newKey), done: { snapshots: [] } });
    // Two durable records per chunk, one at the start and one at the end.
    expect(store.saves).toBe(2 * Math.ceil(SIZE / MiB) + 2);
  }, 60_000);

  it.each([
    ['before the chunk is written', 'die'],
    ['half-way through writing the chunk', 'die-half'],
    ['after the chunk is written, before the watermark is recorded', 'die-after'],
  ] as const)(
    'an engine that dies %s resumes, re-encrypting no block twice',
    async (_what, how) => {
      const inner = new CrashableDevice(SIZE);
      const oldKey = newDataKey();
      const newKey = newDataKey();
      const store: { record?: RotationRecord; saves: number } = { saves: 0 };
      // Dies on the third chunk.
      const first = engineOver(inner, { current: oldKey }, store, (r) => {
        if (how === 'die-after' && !r.inProgress && r.watermark === 4 * MiB) {
          inner.dead = true;
          return true;
        }
        return false;
      });
      const model = Buffer.alloc(SIZE);
      await fill(first.dev, model);
      // The chunk [3 MiB, 4 MiB) is where the first engine dies (the one before it is a hole).
      inner.beforeWrite = () =>
        how !== 'die-after' && store.record?.inProgress?.end === 4 * MiB ? how : 'ok';
      await first.rotator.rotate(rotateReq(oldKey, newKey));
      await waitFor(
        'the first engine to die',
        async () => (await first.rotator.status()).state === 'failed',
        {
          timeoutMs: 30_000,
        },
      );
      expect(store.record!.watermark).toBe(3 * MiB);
      expect(store.record!.inProgress?.end).toBe(4 * MiB);
      // What the dead engine left in that chunk: none, half or all of it under the new key.
      const oldCipher = new XtsCipher(oldKey);
      const block = 3 * MiB + MiB / 2 - CRYPT_BLOCK;
      const underOld = oldCipher
        .decrypt(Buffer.from(inner.data.subarray(block, block + CRYPT_BLOCK)), block / CRYPT_BLOCK)
        .equals(model.subarray(block, block + CRYPT_BLOCK));
      expect(underOld).toBe(how === 'die');

      // A new engine on the same bytes, given both keys (the key record), resumes from the record.
      inner.dead = false;
      inner.beforeWrite = null;
      const second = engineOver(inner, { current: newKey, previous: oldKey }, store);
      expect(second.dev.rotationWatermark).toBe(3 * MiB);
      second.rotator.resume();
      await waitFor('the rotation to finish', async () => (await second.rotator.status()).state === 'done', {
        timeoutMs: 30_000,
      });
      expect((await second.dev.read(0, SIZE)).equals(model)).toBe(true);
      expectUnder(inner, newKey, model);
      // Started with the old key only (stale arguments), the next engine is refused.
      expect(() => engineOver(inner, { current: oldKey }, store)).toThrow(/re-encrypted to data key dk-/);
    },
    60_000,
  );

  it('keeps the previous key for snapshots taken before the end: another rotation and a revert onto them are refused', async () => {
    const inner = new MemoryDevice(2 * MiB);
    const oldKey = newDataKey();
    const newKey = newDataKey();
    const store: { record?: RotationRecord; saves: number } = { saves: 0 };
    const { dev, rotator, setSnapshots } = engineOver(inner, { current: oldKey }, store);
    await dev.write(0, randomBytes(MiB), false);
    setSnapshots(['before']);
    await rotator.rotate(rotateReq(oldKey, newKey));
    await waitFor('done', async () => (await rotator.status()).state === 'done');
    expect((await rotator.status()).snapshotsUsingPrevious).toEqual(['before']);
    await expect(rotator.checkRevert('before')).rejects.toThrow(/reverting to it is refused/);
    await expect(rotator.rotate(rotateReq(newKey, newDataKey()))).rejects.toThrow(
      /snapshots before still hold blocks under data key/,
    );
    // The snapshot gone, the previous key is no longer used and a next rotation may start.
    setSnapshots([]);
    expect((await rotator.status()).snapshotsUsingPrevious).toEqual([]);
    const newer = newDataKey();
    expect((await rotator.rotate(rotateReq(newKey, newer))).to).toBe(dataKeyId(newer));
    await waitFor('done again', async () => (await rotator.status()).state === 'done');
  });

  it('refuses a request that does not start from the volume key', async () => {
    const inner = new MemoryDevice(MiB);
    const { rotator } = engineOver(inner, { current: newDataKey() }, { saves: 0 });
    await expect(rotator.rotate(rotateReq(newDataKey(), newDataKey()))).rejects.toThrow(
      /re-encrypts from data key dk-\w+, but the volume's data key is dk-/,
    );
  });
});
