import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Replica } from '../../src/replica/replica.js';
import { bytes, MiB } from './helpers.js';

/**
 * The replica-store side of rebuilding a returning replica: `finishImport({drop})` deletes
 * layers the source no longer has in the same commit as the import (see LayerStore).
 */
let dir: string;
let r: Replica | null;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'store-drop-'));
  r = null;
});

afterEach(async () => {
  await r?.close().catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

/** s1 <- gone <- join <- head, each with some data. */
async function setup(): Promise<Replica> {
  const rep = await Replica.create(dir, { size: 16 * MiB });
  await rep.write(0, bytes(2 * MiB, 1));
  await rep.snapshot('s1');
  await rep.write(2 * MiB, bytes(2 * MiB, 2));
  await rep.snapshot('gone');
  await rep.write(4 * MiB, bytes(2 * MiB, 3));
  await rep.snapshot('join');
  return rep;
}

/** Holes preserved (fs.copyFile would fill them). */
function sparseCopy(from: string, to: string): void {
  execFileSync('cp', ['--sparse=always', from, to]);
}

const names = (rep: Replica) => rep.chain().map((l) => `${l.name}<-${l.parent ?? ''}`);

describe('finishImport with drop', () => {
  it('re-parents an imported layer and drops the layer left without children, durably', async () => {
    r = await setup();
    await r.importLayer({ name: 'join', parent: 's1' });
    await r.writeLayer('join', 8 * MiB, bytes(1 * MiB, 4));
    await r.finishImport({ drop: ['gone'] });
    const head = r.info().headName;
    expect(names(r)).toEqual(['s1<-', 'join<-s1', `${head}<-join`]);
    expect((await readdir(dir)).filter((f) => f.includes('gone'))).toEqual([]);
    expect(await r.allocatedRanges('join')).toEqual([{ offset: 8 * MiB, length: 1 * MiB }]);
    await r.close();
    r = await Replica.open(dir);
    expect(names(r)).toEqual(['s1<-', 'join<-s1', `${head}<-join`]);
    expect((await r.readLayer('join', 8 * MiB, MiB)).equals(bytes(MiB, 4))).toBe(true);
    expect((await r.read(2 * MiB, 2 * MiB)).equals(Buffer.alloc(2 * MiB))).toBe(true);
  });

  it('refuses to drop an ancestor of a remaining layer, a staged layer or an unknown one; nothing changes', async () => {
    r = await setup();
    const before = names(r);
    const files = (await readdir(dir)).sort();
    await expect(r.finishImport({ drop: ['gone'] })).rejects.toMatchObject({ code: 'IMPORT_INVALID' });
    await r.importLayer({ name: 'join', parent: 's1' });
    await expect(r.finishImport({ drop: ['join'] })).rejects.toMatchObject({ code: 'IMPORT_INVALID' });
    await expect(r.finishImport({ drop: ['nope'] })).rejects.toMatchObject({ code: 'SNAPSHOT_NOT_FOUND' });
    await expect(r.finishImport({ drop: [r.info().headName] })).rejects.toMatchObject({
      code: 'INVALID_LAYER',
    });
    await r.abortImport();
    expect(names(r)).toEqual(before);
    expect((await readdir(dir)).sort()).toEqual(files);
  });

  it('a crash after the commit intent rolls forward at open, dropped files swept', async () => {
    // Build the on-disk state of a crash between the intent write and the renames by hand:
    // the staged file and the meta naming it pending, `gone` already out of the snapshot list.
    r = await setup();
    await r.importLayer({ name: 'join', parent: 's1', created: '2026-01-01T00:00:00.000Z' });
    await r.writeLayer('join', 8 * MiB, bytes(1 * MiB, 4));
    const staged = join(dir, 'volume-snap-join.img.import');
    sparseCopy(staged, `${dir}.saved`);
    const head = r.info().headName;
    await r.close(); // drops the staged file
    r = null;
    sparseCopy(`${dir}.saved`, staged);
    await rm(`${dir}.saved`);
    const meta = JSON.parse(await readFile(join(dir, 'volume.meta'), 'utf8'));
    meta.snapshots = meta.snapshots.filter((n: string) => n !== 'gone');
    meta.pending = {
      op: 'import',
      layers: [
        {
          name: 'join',
          parent: 's1',
          removed: false,
          userCreated: false,
          created: '2026-01-01T00:00:00.000Z',
          labels: {},
          size: 16 * MiB,
        },
      ],
    };
    await writeFile(join(dir, 'volume.meta'), JSON.stringify(meta));
    r = await Replica.open(dir);
    expect(names(r)).toEqual(['s1<-', 'join<-s1', `${head}<-join`]);
    expect((await readdir(dir)).filter((f) => f.includes('gone') || f.endsWith('.import'))).toEqual([]);
    expect(await r.allocatedRanges('join')).toEqual([{ offset: 8 * MiB, length: 1 * MiB }]);
  });
});

describe('readLayer into a given buffer', () => {
  it("reads the same bytes into the caller's buffer and refuses one too small", async () => {
    r = await setup();
    const buf = Buffer.alloc(3 * MiB, 0xee);
    const got = await r.readLayer('gone', 1 * MiB, 2 * MiB, buf);
    expect(got.buffer).toBe(buf.buffer);
    expect(got.equals(await r.readLayer('gone', 1 * MiB, 2 * MiB))).toBe(true);
    expect(got.subarray(0, MiB).equals(Buffer.alloc(MiB))).toBe(true); // a hole reads as zeros
    await expect(r.readLayer('gone', 0, 4 * MiB, buf)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
