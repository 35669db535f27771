import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { longhornLocal } from './cli.js';

describe('longhorn-local: the main job and bad input', () => {
  it('demo brings a volume up, writes, snapshots, lists, and tears everything down', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lh-demo-'));
    try {
      const out = await longhornLocal('demo', '--once', '--dir', dir, '--size', '256MiB');
      expect(out).toMatch(/export-size: 268435456/);
      expect(out).toMatch(/wrote 70000\/70000 bytes at offset 1000/);
      expect(out).toMatch(/snap {2}demo-1 {2}73728 bytes of data/);
      expect(out.match(/\bRW$/gm)).toHaveLength(3);
      expect(out).toMatch(/stopped\s*$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it.each([
    [['volume', 'up', '--dir', '/tmp/x'], /--size SIZE is required/],
    [['volume', 'up', '--dir', '/tmp/x', '--size', '1000'], /multiple of 4096/],
    [['volume', 'up', '--dir', '/tmp/lh-never', '--size', '1GiB', '--replicas', '0'], /expected 1\.\.20/],
    [['volume', 'replicas', '--dir', '/tmp/lh-no-such-volume'], /no volume under \/tmp\/lh-no-such-volume/],
    [['volume', 'kill-replica', '--dir', '/tmp/x'], /--index I is required/],
    [['volume', 'frobnicate', '--dir', '/tmp/x'], /unknown command "frobnicate"/],
    [['volume', 'replicas'], /--dir DIR is required/],
    [['nonsense'], /unknown command nonsense/],
  ])('%j fails with a clear message', async (args, message) => {
    await expect(longhornLocal(...args)).rejects.toThrow(message);
  });

  it('volume down on a directory without a volume is a no-op', async () => {
    expect(await longhornLocal('volume', 'down', '--dir', '/tmp/lh-no-such-volume')).toBe('');
  });
});
