import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../wait-for.js';
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

  it("kill-replica on the engine node's replica kills the engine, which its instance manager restarts", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lh-kill0-'));
    try {
      const uri = (
        await longhornLocal('volume', 'up', '--dir', dir, '--replicas', '2', '--size', '64MiB')
      ).trim();
      const before = JSON.parse(await longhornLocal('volume', 'info', '--dir', dir, '-o', 'json'));
      const out = await longhornLocal('volume', 'kill-replica', '--dir', dir, '--index', '0');
      expect(out).toMatch(/killed replica 0 \(pid \d+\)/);
      // While the engine restarts `volume info` fails: that counts as "not yet".
      const info = await waitFor(
        'the engine to come back with a newer generation',
        async () => {
          const now = JSON.parse(await longhornLocal('volume', 'info', '--dir', dir, '-o', 'json')) as {
            frontend: string;
            replicas: { mode: string }[];
            generation: number;
          };
          return now.generation > before.generation && now;
        },
        { timeoutMs: 60_000, maxIntervalMs: 500 },
      );
      expect(info.frontend).toBe(uri);
      expect(info.replicas.map((r) => r.mode)).toEqual(['RW', 'RW']);
    } finally {
      await longhornLocal('volume', 'down', '--dir', dir);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('volume down on a directory without a volume is a no-op', async () => {
    expect(await longhornLocal('volume', 'down', '--dir', '/tmp/lh-no-such-volume')).toBe('');
  });
});
