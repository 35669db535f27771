import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockChecksum, compressBlock, decodeBlock } from '../../src/backup/block-codec.js';

const run = promisify(execFile);
const MiB = 1 << 20;
const SRC = fileURLToPath(new URL('./lz4-go/', import.meta.url));

/**
 * Our lz4 blocks against the LZ4 library Longhorn's backupstore uses (github.com/pierrec/lz4/v4,
 * built from the Go module proxy into a temp dir): each side decodes what the other wrote.
 */
describe('lz4 blocks are the frames Longhorn writes and reads', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lh-lz4-'));
  const bin = join(dir, 'lz4-go');
  const block = Buffer.concat([randomBytes(MiB), Buffer.from('longhorn '.repeat(116509)).subarray(0, MiB)]);

  beforeAll(async () => {
    await run('go', ['build', '-o', bin, '.'], { cwd: SRC, env: { ...process.env, GOFLAGS: '-mod=mod' } });
  }, 300_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("Longhorn's library decodes our block", async () => {
    writeFileSync(join(dir, 'ours.lz4'), await compressBlock('lz4', block));
    await run(bin, ['decompress', join(dir, 'ours.lz4'), join(dir, 'ours.out')]);
    expect(readFileSync(join(dir, 'ours.out')).equals(block)).toBe(true);
  });

  it("we decode and verify a block Longhorn's library wrote", async () => {
    writeFileSync(join(dir, 'in.bin'), block);
    await run(bin, ['compress', join(dir, 'in.bin'), join(dir, 'theirs.lz4')]);
    const theirs = readFileSync(join(dir, 'theirs.lz4'));
    expect(theirs.subarray(0, 4).toString('hex')).toBe('04224d18'); // LZ4 frame magic
    const back = await decodeBlock('lz4', theirs, await blockChecksum(block), 2 * MiB, {
      volume: 'v',
      path: 'x',
    });
    expect(back.equals(block)).toBe(true);
  });
});
