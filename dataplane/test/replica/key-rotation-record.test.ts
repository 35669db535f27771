import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ReplicaClient } from '../../src/protocol/client.js';
import { ReplicaServer } from '../../src/protocol/server.js';
import { Replica } from '../../src/replica/replica.js';

const MiB = 1 << 20;
const RECORD = '{"from":"dk-1111111111111111","to":"dk-2222222222222222","watermark":4194304}';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lh-keyrot-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a replica keeps the data-key rotation record its engine saves', () => {
  it('durably in volume.meta, across a reopen, until it is cleared', async () => {
    const r = await Replica.create(join(dir, 'r'), { size: 8 * MiB });
    expect(r.info().keyRotation).toBeUndefined();
    await r.setKeyRotation(RECORD);
    expect(r.info().keyRotation).toBe(RECORD);
    expect(JSON.parse(await readFile(join(dir, 'r', 'volume.meta'), 'utf8')).keyRotation).toBe(RECORD);
    await r.close();
    const again = await Replica.open(join(dir, 'r'));
    try {
      expect(again.info().keyRotation).toBe(RECORD);
      await again.setKeyRotation(null);
      expect(again.info().keyRotation).toBeUndefined();
      expect('keyRotation' in JSON.parse(await readFile(join(dir, 'r', 'volume.meta'), 'utf8'))).toBe(false);
    } finally {
      await again.close();
    }
  });

  it('refuses an empty or oversized record and keeps the one it has', async () => {
    const r = await Replica.create(join(dir, 'r'), { size: 8 * MiB });
    try {
      await r.setKeyRotation(RECORD);
      await expect(r.setKeyRotation('')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(r.setKeyRotation('x'.repeat(64 * 1024 + 1))).rejects.toThrow(
        /key rotation record of 65537 bytes is over 65536/,
      );
      expect(r.info().keyRotation).toBe(RECORD);
    } finally {
      await r.close();
    }
  });

  it('over the replica protocol: setKeyRotation, and info and the hello carry it', async () => {
    const server = new ReplicaServer({
      dataDir: join(dir, 'data'),
      factory: { create: (d, o) => Replica.create(d, o), open: (d) => Replica.open(d) },
    });
    const path = await server.listenUnix(join(dir, 's.sock'));
    await server.createReplica('r1', { size: 8 * MiB });
    const client = await ReplicaClient.connect({ path }, 'r1', { connections: 1 });
    try {
      await client.setKeyRotation(RECORD);
      expect((await client.info()).keyRotation).toBe(RECORD);
      await expect(client.setKeyRotation('')).rejects.toThrow(/record must be a non-empty string/);
      const second = await ReplicaClient.connect({ path }, 'r1', { connections: 1 });
      try {
        expect(second.helloInfo.keyRotation).toBe(RECORD);
      } finally {
        await second.close();
      }
      await client.setKeyRotation(null);
      expect((await client.info()).keyRotation).toBeUndefined();
    } finally {
      await client.close();
      await server.close();
    }
  });
});
