import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Replica, ReplicaError, type ReplicaErrorCode } from '../../src/replica/index.js';
import { tempDir } from './helpers.js';

const SIZE = 1 << 20;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** Names, sizes and contents' hashes of every file: "nothing on disk changes" is checked on this. */
function fingerprint(dir: string): string {
  return fs
    .readdirSync(dir)
    .sort()
    .map((f) => {
      const p = path.join(dir, f);
      const st = fs.statSync(p);
      return `${f}:${st.size}:${createHash('sha1').update(fs.readFileSync(p)).digest('hex')}`;
    })
    .join('\n');
}

async function expectCode(p: Promise<unknown> | (() => unknown), code: ReplicaErrorCode): Promise<void> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${code}`).toBeInstanceOf(ReplicaError);
  expect((err as ReplicaError).code).toBe(code);
  expect((err as ReplicaError).message).toContain(code);
}

async function fixture(): Promise<{ dir: string; replica: Replica }> {
  const { dir, cleanup } = await tempDir('replica-bad');
  cleanups.push(cleanup);
  const replica = await Replica.create(dir, { size: SIZE });
  await replica.write(0, Buffer.alloc(8192, 7));
  await replica.snapshot('base');
  await replica.write(4096, Buffer.alloc(4096, 9));
  await replica.flush();
  return { dir, replica };
}

describe('bad input gets a typed error and changes nothing', () => {
  it('rejects bad ranges and arguments for block I/O', async () => {
    const { dir, replica } = await fixture();
    const before = fingerprint(dir);
    const cases: [() => Promise<unknown>, ReplicaErrorCode][] = [
      [() => replica.read(SIZE - 10, 11), 'OUT_OF_RANGE'],
      [() => replica.read(SIZE, 1), 'OUT_OF_RANGE'],
      [() => replica.write(SIZE - 1, Buffer.alloc(2)), 'OUT_OF_RANGE'],
      [() => replica.unmap(0, SIZE + 4096), 'OUT_OF_RANGE'],
      [() => replica.writeZeroes(SIZE, 4096), 'OUT_OF_RANGE'],
      [() => replica.read(-1, 10), 'INVALID_ARGUMENT'],
      [() => replica.write(-4096, Buffer.alloc(4096)), 'INVALID_ARGUMENT'],
      [() => replica.read(1.5, 10), 'INVALID_ARGUMENT'],
      [() => replica.read(0, 0.5), 'INVALID_ARGUMENT'],
      [() => replica.write(0.25, Buffer.alloc(1)), 'INVALID_ARGUMENT'],
      [() => replica.unmap(Number.NaN, 4096), 'INVALID_ARGUMENT'],
      [() => replica.writeZeroes(0, -1), 'INVALID_ARGUMENT'],
      [() => replica.write(0, 'text' as unknown as Buffer), 'INVALID_ARGUMENT'],
      [() => replica.readLayer('base', SIZE, 1), 'OUT_OF_RANGE'],
      [() => replica.setGeneration(-1), 'INVALID_ARGUMENT'],
      [() => replica.setGeneration(1.5), 'INVALID_ARGUMENT'],
    ];
    for (const [call, code] of cases) await expectCode(call, code);
    expect(fingerprint(dir)).toBe(before);
    await replica.close();
  });

  it('rejects bad snapshot names and missing or protected layers', async () => {
    const { dir, replica } = await fixture();
    const before = fingerprint(dir);
    const head = replica.info().headName;
    const cases: [() => Promise<unknown>, ReplicaErrorCode][] = [
      [() => replica.snapshot('a/b'), 'INVALID_NAME'],
      [() => replica.snapshot('..'), 'INVALID_NAME'],
      [() => replica.snapshot('x..y'), 'INVALID_NAME'],
      [() => replica.snapshot('nul\0name'), 'INVALID_NAME'],
      [() => replica.snapshot(''), 'INVALID_NAME'],
      [() => replica.snapshot('x'.repeat(300)), 'INVALID_NAME'],
      [() => replica.snapshot('base'), 'SNAPSHOT_EXISTS'],
      [() => replica.snapshot(head), 'SNAPSHOT_EXISTS'],
      [() => replica.snapshot('ok', { created: 'yesterday' }), 'INVALID_ARGUMENT'],
      [() => replica.snapshot('ok', { labels: { a: 1 as unknown as string } }), 'INVALID_ARGUMENT'],
      [() => replica.revert('missing'), 'SNAPSHOT_NOT_FOUND'],
      [() => replica.revert('../base'), 'INVALID_NAME'],
      [() => replica.revert(head), 'INVALID_LAYER'],
      [() => replica.markRemoved('missing'), 'SNAPSHOT_NOT_FOUND'],
      [() => replica.markRemoved(head), 'INVALID_LAYER'],
      [() => replica.allocatedRanges('missing'), 'SNAPSHOT_NOT_FOUND'],
      [() => replica.readLayer('missing', 0, 1), 'SNAPSHOT_NOT_FOUND'],
      [() => replica.readSnapshot(head, 0, 1), 'INVALID_LAYER'],
      [() => replica.writeLayer('base', 0, Buffer.alloc(1)), 'IMPORT_INVALID'],
      [() => replica.importLayer({ name: head, parent: null }), 'INVALID_LAYER'],
      [() => replica.importLayer({ name: 'big', parent: null, size: 2 * SIZE }), 'OUT_OF_RANGE'],
    ];
    for (const [call, code] of cases) await expectCode(call, code);
    expect(fingerprint(dir)).toBe(before);
    await replica.markRemoved('base');
    await expectCode(replica.revert('base'), 'INVALID_LAYER');
    await replica.close();
  });

  it('rejects shrinking and badly sized expansion', async () => {
    const { dir, replica } = await fixture();
    const before = fingerprint(dir);
    await expectCode(replica.expand(SIZE - 4096), 'SHRINK_NOT_ALLOWED');
    await expectCode(replica.expand(SIZE + 100), 'INVALID_SIZE');
    await expectCode(replica.expand(0), 'INVALID_SIZE');
    expect(fingerprint(dir)).toBe(before);
    expect(replica.info().size).toBe(SIZE);
    await replica.close();
  });

  it('rejects bad create options and an existing replica', async () => {
    const { dir, cleanup } = await tempDir('replica-create');
    cleanups.push(cleanup);
    await expectCode(Replica.create(path.join(dir, 'r'), { size: 1000 }), 'INVALID_SIZE');
    await expectCode(Replica.create(path.join(dir, 'r'), { size: -4096 }), 'INVALID_SIZE');
    await expectCode(
      Replica.create(path.join(dir, 'r'), { size: SIZE, sectorSize: 100 }),
      'INVALID_ARGUMENT',
    );
    expect(fs.existsSync(path.join(dir, 'r'))).toBe(false);
    const r = await Replica.create(path.join(dir, 'r'), { size: SIZE });
    await r.close();
    const before = fingerprint(path.join(dir, 'r'));
    await expectCode(Replica.create(path.join(dir, 'r'), { size: SIZE }), 'ALREADY_EXISTS');
    expect(fingerprint(path.join(dir, 'r'))).toBe(before);
  });

  it('refuses to open what is not a replica', async () => {
    const { dir, cleanup } = await tempDir('replica-notone');
    cleanups.push(cleanup);
    fs.writeFileSync(path.join(dir, 'hello.txt'), 'hi');
    const before = fingerprint(dir);
    await expectCode(Replica.open(dir), 'NOT_A_REPLICA');
    await expectCode(Replica.open(path.join(dir, 'missing')), 'NOT_A_REPLICA');
    await expectCode(Replica.open(path.join(dir, 'hello.txt')), 'NOT_A_REPLICA');
    expect(fingerprint(dir)).toBe(before);
  });

  it('refuses corrupt or truncated metadata without touching the directory', async () => {
    const { dir, replica } = await fixture();
    await replica.close();
    const meta = path.join(dir, 'volume.meta');
    const good = fs.readFileSync(meta, 'utf8');
    const snapMeta = path.join(dir, 'volume-snap-base.img.meta');
    const goodSnap = fs.readFileSync(snapMeta, 'utf8');
    // A stray file an interrupted operation would leave: it must survive a refused open.
    fs.writeFileSync(path.join(dir, 'volume-snap-stray.img'), 'x');
    const corruptions: [string, string][] = [
      [meta, good.slice(0, good.length / 2)],
      [meta, ''],
      [meta, '[]'],
      [meta, good.replace('"size": 1048576', '"size": -1')],
      [meta, good.replace('"version": 1', '"version": 99')],
      [meta, good.replace('"snapshots": [', '"snapshots": ["ghost", ')],
      [snapMeta, goodSnap.slice(0, 10)],
      [snapMeta, goodSnap.replace('"name": "base"', '"name": "other"')],
      [snapMeta, goodSnap.replace('"parent": null', '"parent": "base"')],
    ];
    for (const [file, text] of corruptions) {
      const original = file === meta ? good : goodSnap;
      fs.writeFileSync(file, text);
      const before = fingerprint(dir);
      await expectCode(Replica.open(dir), 'CORRUPT_METADATA');
      expect(fingerprint(dir)).toBe(before);
      fs.writeFileSync(file, original);
    }
    // A layer file that metadata names but that is gone.
    fs.renameSync(path.join(dir, 'volume-snap-base.img'), path.join(dir, 'moved'));
    await expectCode(Replica.open(dir), 'CORRUPT_METADATA');
    fs.renameSync(path.join(dir, 'moved'), path.join(dir, 'volume-snap-base.img'));
    const ok = await Replica.open(dir);
    expect(
      (await ok.read(0, 8192)).equals(Buffer.concat([Buffer.alloc(4096, 7), Buffer.alloc(4096, 9)])),
    ).toBe(true);
    expect(fs.existsSync(path.join(dir, 'volume-snap-stray.img'))).toBe(false);
    await ok.close();
  });

  it('refuses a second open of a replica that is open', async () => {
    const { dir, replica } = await fixture();
    await expectCode(Replica.open(dir), 'BUSY');
    await replica.close();
    const again = await Replica.open(dir);
    await again.close();
  });

  it('answers CLOSED after close', async () => {
    const { replica } = await fixture();
    await replica.close();
    await expectCode(replica.read(0, 1), 'CLOSED');
    await expectCode(() => replica.info(), 'CLOSED');
    await replica.close();
  });
});
