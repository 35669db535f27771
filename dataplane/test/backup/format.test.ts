import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeBackupUrl, encodeBackupUrl } from '../../src/backup/backup-url.js';
import { blockChecksum, compressBlock, decodeBlock, isZeroBlock } from '../../src/backup/block-codec.js';
import {
  changedBlocks,
  incrementalBase,
  incrementalRestorePlan,
  latestBackup,
  mergeBlocks,
  unreferencedBlocks,
} from '../../src/backup/block-plan.js';
import {
  type BackupConfig,
  blockSizeOf,
  decodeBackupConfig,
  decodeVolumeConfig,
  encodeBackupConfig,
  encodeVolumeConfig,
} from '../../src/backup/config.js';
import { parseCredentials } from '../../src/backup/credentials.js';
import { BackupError } from '../../src/backup/errors.js';
import {
  backupCfgPath,
  blockChecksumOf,
  blockPath,
  lockPath,
  volumeCfgPath,
} from '../../src/backup/layout.js';
import { blockingLock, compareLocks } from '../../src/backup/lock.js';
import { openTarget, parseS3Url } from '../../src/backup/target-url.js';

const MiB = 1 << 20;

describe('backupstore layout (Longhorn paths)', () => {
  it('puts a volume under volumes/<h[0:2]>/<h[2:4]>/ with h the SHA-512 of its name', () => {
    const h = createHash('sha512').update('pvc-1').digest('hex');
    expect(volumeCfgPath('pvc-1')).toBe(
      `backupstore/volumes/${h.slice(0, 2)}/${h.slice(2, 4)}/pvc-1/volume.cfg`,
    );
    expect(backupCfgPath('pvc-1', 'backup-0123456789abcdef')).toBe(
      `backupstore/volumes/${h.slice(0, 2)}/${h.slice(2, 4)}/pvc-1/backups/backup_backup-0123456789abcdef.cfg`,
    );
    const c = 'ab'.repeat(32);
    expect(blockPath('pvc-1', c)).toBe(
      `backupstore/volumes/${h.slice(0, 2)}/${h.slice(2, 4)}/pvc-1/blocks/ab/ab/${c}.blk`,
    );
    expect(lockPath('pvc-1', 'lock-1')).toMatch(/\/pvc-1\/locks\/lock-1\.lck$/);
    expect(blockChecksumOf(`ab/ab/${c}.blk`)).toBe(c);
    expect(blockChecksumOf('ab/ab/nothex.blk')).toBeUndefined();
  });

  it.each(['', 'a', '-x', 'a/b', '../etc', 'x y'])('refuses the volume name %j', (name) => {
    expect(() => volumeCfgPath(name)).toThrow(/invalid volume name/);
  });
});

describe('cfg files (Go encoding/json of Longhorn structs)', () => {
  // A volume.cfg as Longhorn writes it: `,string` ints as strings, `,string` strings quoted twice.
  const longhornVolume =
    '{"Name":"pvc-1","Size":"18874368","Labels":{"k":"v"},"CreatedTime":"2026-10-05T00:40:38Z","LastBackupName":"backup-854f6ced7b4942d4","LastBackupAt":"2026-10-05T00:40:38Z","BlockCount":"4","BackingImageName":"\\"\\"","BackingImageChecksum":"\\"\\"","CompressionMethod":"\\"lz4\\"","StorageClassName":"\\"\\"","DataEngine":"\\"v1\\"","LinkedCloneSourceVolume":"\\"\\""}';

  it('reads a Longhorn volume.cfg and writes it back byte for byte', () => {
    const v = decodeVolumeConfig(longhornVolume);
    expect(v).toMatchObject({
      Name: 'pvc-1',
      Size: 18874368,
      BlockCount: 4,
      CompressionMethod: 'lz4',
      DataEngine: 'v1',
      LastBackupName: 'backup-854f6ced7b4942d4',
      Labels: { k: 'v' },
    });
    expect(encodeVolumeConfig(v).toString()).toBe(longhornVolume);
  });

  it('reads plain strings too, and falls back to gzip without a compression method (Longhorn)', () => {
    const v = decodeVolumeConfig('{"Name":"old","Size":"4194304","BlockCount":"0"}');
    expect(v.CompressionMethod).toBe('gzip');
    expect(v.DataEngine).toBe('v1');
    expect(
      decodeVolumeConfig('{"Name":"x","Size":2097152,"CompressionMethod":"none"}').CompressionMethod,
    ).toBe('none');
  });

  it('writes a backup cfg with Longhorn fields in Longhorn order and reads it back', () => {
    const b: BackupConfig = {
      Name: 'backup-1',
      VolumeName: 'pvc-1',
      SnapshotName: 'snap-1',
      SnapshotCreatedAt: '2026-10-05T00:40:38Z',
      CreatedTime: '2026-10-05T00:40:40Z',
      Size: 4 * MiB,
      Labels: null,
      Parameters: { 'backup-block-size': '2097152', 'backup-mode': 'incremental' },
      IsIncremental: true,
      CompressionMethod: 'lz4',
      NewlyUploadedDataSize: 123,
      ReUploadedDataSize: 0,
      Blocks: [
        { Offset: 0, BlockChecksum: 'a'.repeat(64) },
        { Offset: 2 * MiB, BlockChecksum: 'b'.repeat(64) },
      ],
    };
    const text = encodeBackupConfig(b).toString();
    expect(Object.keys(JSON.parse(text))).toEqual([
      'Name',
      'VolumeName',
      'SnapshotName',
      'SnapshotCreatedAt',
      'CreatedTime',
      'Size',
      'Labels',
      'Parameters',
      'IsIncremental',
      'CompressionMethod',
      'NewlyUploadedDataSize',
      'ReUploadedDataSize',
      'ProcessingBlocks',
      'Blocks',
      'SingleFile',
    ]);
    expect(text).toContain('"Size":"4194304"');
    expect(text).toContain('"Blocks":[{"Offset":0,"BlockChecksum":"aaaa');
    expect(decodeBackupConfig(text)).toEqual(b);
    // Go's omitempty: an in-progress cfg has no Blocks key.
    expect(encodeBackupConfig({ ...b, Blocks: [] }).toString()).not.toContain('"Blocks"');
  });

  it.each([
    ['not JSON', '{', /not valid JSON/],
    ['no name', '{"Size":"1"}', /has no Name/],
    ['a bad size', '{"Name":"v","Size":"-1"}', /Size "-1" is not a size/],
    [
      'an unknown compression',
      '{"Name":"v","CompressionMethod":"\\"zstd\\""}',
      /unknown compression method "zstd"/,
    ],
  ])('refuses a volume.cfg with %s', (_, text, message) => {
    expect(() => decodeVolumeConfig(text)).toThrow(message);
    try {
      decodeVolumeConfig(text);
    } catch (err) {
      expect((err as BackupError).code).toBe('CORRUPT_CONFIG');
    }
  });

  it('refuses a backup cfg whose block has a bad checksum, naming the offset', () => {
    expect(() =>
      decodeBackupConfig('{"Name":"b","Blocks":[{"Offset":2097152,"BlockChecksum":"xyz"}]}'),
    ).toThrow(/block at offset 2097152 has checksum "xyz"/);
  });

  it('reads the block size parameter as a quantity', () => {
    expect(blockSizeOf(null)).toBe(2 * MiB);
    expect(blockSizeOf({ 'backup-block-size': '16Mi' })).toBe(16 * MiB);
    expect(blockSizeOf({ 'backup-block-size': '2097152' })).toBe(2 * MiB);
    expect(() => blockSizeOf({ 'backup-block-size': 'big' })).toThrow(/invalid backup-block-size/);
  });
});

describe('backup URLs', () => {
  it('are the target URL with sorted backup and volume parameters (Go url.Values)', () => {
    const url = encodeBackupUrl('s3://bucket@us-east-1/store', 'pvc-1', 'backup-1');
    expect(url).toBe('s3://bucket@us-east-1/store?backup=backup-1&volume=pvc-1');
    expect(decodeBackupUrl(url)).toEqual({
      targetUrl: 's3://bucket@us-east-1/store',
      volume: 'pvc-1',
      backup: 'backup-1',
    });
    expect(decodeBackupUrl('vfs:///tmp/x?volume=v1')).toEqual({
      targetUrl: 'vfs:///tmp/x',
      volume: 'v1',
      backup: '',
    });
  });

  it.each([
    ['s3://b@r/p', /has no \?backup=NAME&volume=NAME/],
    ['s3://b@r/p?backup=b1', /invalid volume name ""/],
    ['s3://b@r/p?volume=v1&backup=../x', /invalid backup name/],
  ])('refuses %s', (url, message) => {
    expect(() => decodeBackupUrl(url)).toThrow(message);
  });
});

describe('targets from URLs and credentials files', () => {
  it('parses s3://bucket@region/path and s3://bucket/path', () => {
    expect(parseS3Url('s3://backups@us-west-2/a/b/')).toEqual({
      bucket: 'backups',
      region: 'us-west-2',
      prefix: 'a/b',
    });
    expect(parseS3Url('s3://backups/store')).toEqual({ bucket: 'backups', region: '', prefix: 'store' });
    expect(parseS3Url('s3://backups@r/')).toEqual({ bucket: 'backups', region: 'r', prefix: '' });
    expect(() => parseS3Url('s3://backups@r')).toThrow(/must be s3:\/\/bucket@region\/path/);
  });

  it.each([
    ['', /empty/],
    [
      'relative/dir',
      /expected s3:\/\/bucket@region\/path, nfs:\/\/server:\/path, vfs:\/\/\/path or an absolute path/,
    ],
    ['nfs://server/export', /expected nfs:\/\/SERVER:\/EXPORT\/PATH \(Longhorn's form\)/],
    ['nfs://server:/export?nfsport=99999', /nfsport must be a port, got "99999"/],
    ['nfs://server:/export?vers=4', /unknown option vers \(known: nfsOptions, nfsport, mountport\)/],
    ['vfs://relative', /expected vfs:\/\/\/path/],
  ])('refuses the target %j with a clear message', (url, message) => {
    expect(() => openTarget(url)).toThrow(message);
  });

  it('refuses an S3 target without keys', () => {
    expect(() => openTarget('s3://b@r/p', { AWS_ACCESS_KEY_ID: 'x' })).toThrow(
      /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are required/,
    );
  });

  it('reads KEY=VALUE lines, comments and quotes; refuses other lines with their number', () => {
    expect(
      parseCredentials(
        '# minio\nAWS_ACCESS_KEY_ID=admin\n\nAWS_SECRET_ACCESS_KEY="p=w d"\nAWS_ENDPOINTS=http://127.0.0.1:9000\n',
      ),
    ).toEqual({
      AWS_ACCESS_KEY_ID: 'admin',
      AWS_SECRET_ACCESS_KEY: 'p=w d',
      AWS_ENDPOINTS: 'http://127.0.0.1:9000',
    });
    expect(() => parseCredentials('A=1\njust text\n', 'creds')).toThrow('creds:2: expected KEY=VALUE');
  });
});

describe('block plan', () => {
  const bs = 2 * MiB;
  const r = (offset: number, length: number) => ({ offset, length });

  it.each([
    ['a full backup takes every layer', null, [0, 2 * MiB, 6 * MiB, 10 * MiB]],
    ['an incremental one the layers above the last snapshot', 'base', [0, 2 * MiB, 10 * MiB]],
  ])('%s', (_, last, expected) => {
    const chain = [
      { name: 'snap2', ranges: [r(10 * MiB + 4096, 4096)] },
      { name: 'snap1', ranges: [r(2 * MiB - 4096, 8192)] },
      { name: 'base', ranges: [r(6 * MiB, 2 * MiB)] },
    ];
    expect(changedBlocks(chain, last, bs, 12 * MiB)).toEqual(expected);
  });

  it('cuts blocks at the volume size', () => {
    expect(changedBlocks([{ name: 'a', ranges: [r(0, 64 * MiB)] }], null, bs, 5 * MiB)).toEqual([
      0,
      2 * MiB,
      4 * MiB,
    ]);
  });

  it.each([
    [['s3', 's2', 's1'], 's1', 's1'],
    [['s3', 's2', 's1'], 's3', null],
    [['s3', 's2'], 'gone', null],
    [['s3'], null, null],
  ])('chain %j, last %j: incremental on %j', (chain, last, expected) => {
    expect(incrementalBase(chain, last)).toBe(expected);
  });

  it('merges changed blocks over the last list; a zero block removes its offset', () => {
    const last = [
      { Offset: 0, BlockChecksum: 'a' },
      { Offset: 2 * MiB, BlockChecksum: 'b' },
      { Offset: 8 * MiB, BlockChecksum: 'c' },
    ];
    const changed = new Map<number, string | null>([
      [4 * MiB, 'd'],
      [2 * MiB, null],
      [0, 'e'],
    ]);
    expect(mergeBlocks(last, changed, 10 * MiB)).toEqual([
      { Offset: 0, BlockChecksum: 'e' },
      { Offset: 4 * MiB, BlockChecksum: 'd' },
      { Offset: 8 * MiB, BlockChecksum: 'c' },
    ]);
  });

  it('plans an incremental restore: changed and new blocks written, removed ones zeroed', () => {
    const m = (Offset: number, BlockChecksum: string) => ({ Offset, BlockChecksum });
    expect(
      incrementalRestorePlan(
        [m(0, 'a'), m(2, 'b'), m(4, 'c'), m(8, 'e')],
        [m(0, 'a'), m(2, 'x'), m(6, 'd'), m(8, 'e')],
      ),
    ).toEqual({ write: [m(2, 'x'), m(6, 'd')], zero: [4] });
    expect(incrementalRestorePlan([], [m(0, 'a')])).toEqual({ write: [m(0, 'a')], zero: [] });
    expect(incrementalRestorePlan([m(0, 'a')], [])).toEqual({ write: [], zero: [0] });
  });

  it('finds unreferenced blocks and the newest remaining backup', () => {
    const b = (name: string, at: string, blocks: string[], created = 'x') =>
      ({
        Name: name,
        SnapshotCreatedAt: at,
        CreatedTime: created,
        Blocks: blocks.map((c, i) => ({ Offset: i, BlockChecksum: c })),
      }) as BackupConfig;
    const backups = [
      b('b1', '2026-01-01T00:00:00Z', ['x', 'y']),
      b('b2', '2026-01-02T00:00:00Z', ['y', 'z']),
      b('b3', '2026-01-03T00:00:00Z', [], ''),
    ];
    expect(unreferencedBlocks(['w', 'x', 'y', 'z'], backups)).toEqual(['w']);
    expect(latestBackup(backups)?.Name).toBe('b2');
  });
});

describe('lock order (Longhorn compareLocks)', () => {
  const lock = (Name: string, Type: number, Acquired: boolean, time: number) => ({
    Name,
    Type,
    Acquired,
    time,
  });

  it.each([
    ['an acquired lock of the other type', [lock('a', 2, true, 5000)], 'a'],
    ['an older unacquired lock of the other type', [lock('a', 2, false, 500)], 'a'],
    ['nothing: a younger unacquired lock of the other type', [lock('a', 2, false, 1500)], undefined],
    ['nothing: a lock of the same type', [lock('a', 1, true, 0)], undefined],
    ['nothing: an expired lock', [lock('a', 2, true, 1000 - 150_001)], undefined],
    ['the older of equal times by name', [lock('a', 2, false, 1000)], 'a'],
  ])('a new backup lock is kept out by %s', (_, others, blocker) => {
    const mine = lock('m', 1, false, 1000);
    expect(blockingLock(mine, others, 1000, 150_000)?.Name).toBe(blocker);
  });

  it('orders acquired first, then by time, then by name', () => {
    expect(compareLocks(lock('b', 1, true, 9), lock('a', 1, false, 0))).toBe(-1);
    expect(compareLocks(lock('b', 1, false, 0), lock('a', 1, false, 1))).toBe(-1);
    expect(compareLocks(lock('a', 1, false, 0), lock('b', 1, false, 0))).toBe(-1);
  });
});

describe('block codec', () => {
  const block = Buffer.alloc(2 * MiB);
  block.write('some data '.repeat(1000), 4096);

  it('names a block by the first 64 hex digits of its SHA-512', async () => {
    expect(await blockChecksum(block)).toBe(createHash('sha512').update(block).digest('hex').slice(0, 64));
  });

  it.each(['lz4', 'gzip', 'none'] as const)('%s round-trips and verifies', async (method) => {
    const c = await blockChecksum(block);
    const stored = await compressBlock(method, block);
    if (method !== 'none') expect(stored.length).toBeLessThan(block.length / 10);
    const back = await decodeBlock(method, stored, c, 2 * MiB, { volume: 'v', path: 'p' });
    expect(back.equals(block)).toBe(true);
  });

  it('reads a gzip block in an lz4 backup (Longhorn falls back the same way)', async () => {
    const c = await blockChecksum(block);
    const back = await decodeBlock('lz4', await compressBlock('gzip', block), c, 2 * MiB, {
      volume: 'v',
      path: 'p',
    });
    expect(back.equals(block)).toBe(true);
  });

  it('names a corrupt block and says why', async () => {
    const c = await blockChecksum(block);
    const stored = await compressBlock('lz4', block);
    stored[stored.length >> 1]! ^= 0xff;
    const err = await decodeBlock('lz4', stored, c, 2 * MiB, { volume: 'v', path: 'p/x.blk' }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(BackupError);
    expect(err.code).toBe('CORRUPT_BLOCK');
    expect(err.message).toContain(`corrupt block ${c} (p/x.blk)`);
    expect(err.context.block).toBe(c);
  });

  it('tells zero blocks', () => {
    expect(isZeroBlock(Buffer.alloc(2 * MiB))).toBe(true);
    expect(isZeroBlock(block)).toBe(false);
    const last = Buffer.alloc(2 * MiB);
    last[last.length - 1] = 1;
    expect(isZeroBlock(last)).toBe(false);
  });
});
