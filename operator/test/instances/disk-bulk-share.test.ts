import { describe, expect, it } from 'vitest';
import { diskBulkShare } from '../../src/instances/replica-servers.js';

describe("a disk server's share of the node's rebuild/backup budget", () => {
  it('is the whole budget for one disk, an even split for several, none for 0', () => {
    expect(diskBulkShare(8, 1)).toBe(8 * 1024 * 1024);
    expect(diskBulkShare(8, 2)).toBe(4 * 1024 * 1024);
    expect(diskBulkShare(10, 3)).toBe(Math.floor((10 * 1024 * 1024) / 3));
    expect(diskBulkShare(0, 2)).toBe(0);
    // A node whose disks are not known yet still holds the whole budget, never unlimited.
    expect(diskBulkShare(8, 0)).toBe(8 * 1024 * 1024);
  });
});
