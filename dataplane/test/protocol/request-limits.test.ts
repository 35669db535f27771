import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_DATA_LENGTH } from '../../src/protocol/codec.js';
import { Cluster, MiB } from '../sync/helpers.js';

let cluster: Cluster;

beforeEach(async () => {
  cluster = await Cluster.create();
});

afterEach(async () => {
  await cluster.close();
});

describe('the replica client never sends what the server codec refuses', () => {
  it('refuses a read or write over the limit locally and keeps the connection', async () => {
    const node = await cluster.node();
    const client = await cluster.replica(node, 'r', 128 * MiB);
    await expect(client.read(0, MAX_DATA_LENGTH + 4096)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(client.write(0, Buffer.alloc(MAX_DATA_LENGTH + 4096))).rejects.toMatchObject({
      code: 'EINVAL',
    });
    await expect(client.readLayer('head', 0, MAX_DATA_LENGTH + 1)).rejects.toThrow(/exceeds the protocol/);
    expect(client.closed).toBe(false);
    await client.write(4096, Buffer.alloc(4096, 7));
    expect((await client.read(4096, 4096)).every((b) => b === 7)).toBe(true);
    // Zeroing and trims carry a range, not a payload: large ones go through.
    await client.writeZeroes(0, 100 * MiB);
    expect((await client.read(4096, 4096)).every((b) => b === 0)).toBe(true);
  });
});
