import { describe, expect, it } from 'vitest';
import { longhornLocal } from '../volume/cli.js';

describe('longhorn-local backup commands: bad input', () => {
  it.each([
    [['backup', 'list'], /backup list: --target URL is required/],
    [
      ['backup', 'list', '--target', 'relative/dir'],
      /expected s3:\/\/bucket@region\/path, nfs:\/\/server:\/path, vfs:\/\/\/path or an absolute path/,
    ],
    [
      ['backup', 'list', '--target', 'nfs://server/export'],
      /expected nfs:\/\/SERVER:\/EXPORT\/PATH \(Longhorn's form\)/,
    ],
    [
      ['backup', 'list', '--target', '/tmp/lh-no-such-store'],
      /directory \/tmp\/lh-no-such-store does not exist/,
    ],
    [['backup', 'delete'], /backup delete BACKUP_URL/],
    [['backup', 'delete', '/tmp/x?volume=v1'], /names no backup/],
    [['backup', 'delete', '/tmp/x'], /has no \?backup=NAME&volume=NAME/],
    [['backup', 'frobnicate'], /backup: unknown command "frobnicate"/],
    [['volume', 'backup', 'create', '--dir', '/tmp/x'], /--target URL is required/],
    [['volume', 'backup', 'list', '--dir', '/tmp/x'], /volume backup create --target URL/],
    [
      ['volume', 'backup', 'create', '--dir', '/tmp/x', '--target', '/tmp', '--mode', 'weekly'],
      /--mode weekly: expected incremental or full/,
    ],
    [
      ['volume', 'backup', 'create', '--dir', '/tmp/x', '--target', '/tmp', '--concurrency', '0'],
      /--concurrency 0: expected a positive integer/,
    ],
    [
      ['volume', 'backup', 'create', '--dir', '/tmp/lh-no-such-volume', '--target', '/tmp'],
      /no volume under \/tmp\/lh-no-such-volume/,
    ],
    [['volume', 'up', '--dir', '/tmp/lh-never', '--from-backup', '/tmp/x?volume=v1'], /names no backup/],
  ])('%j fails with a clear message', async (args, message) => {
    await expect(longhornLocal(...args)).rejects.toThrow(message);
  });
});
