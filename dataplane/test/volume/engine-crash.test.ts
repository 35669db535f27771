import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InstanceManagerClient } from '../../src/instance-manager/client.js';
import { waitFor } from '../wait-for.js';
import { LocalVolume, sh } from './cli.js';

const MiB = 1 << 20;

async function enginePid(vol: LocalVolume): Promise<number> {
  const state = JSON.parse(readFileSync(join(vol.dir, 'volume.json'), 'utf8'));
  const node = state.nodes.find((n: { name: string }) => n.name === state.engine.node);
  const im = new InstanceManagerClient(node.imAddress);
  try {
    const p = await im.get('engine');
    return p.state === 'running' ? p.pid : 0;
  } finally {
    im.close();
  }
}

describe('the engine killed with SIGKILL mid-write and started again on the same replicas', () => {
  const vol = new LocalVolume();
  let uri = '';

  beforeAll(async () => {
    uri = await vol.up(3, '128MiB');
  }, 120_000);

  afterAll(async () => {
    await vol.down();
  }, 120_000);

  it('keeps every flushed write, reconciles the current replicas and flags the stale one', async () => {
    // Flushed data before anything fails.
    await sh('qemu-io', ['-f', 'raw', '-c', 'write -P 0x5a 0 4M', '-c', 'flush', uri]);
    // Replica 2 dies and misses everything after this point.
    await vol.cli('kill-replica', '--index', '2');
    await waitFor('replica 2 ejected', async () => (await vol.replicas())[2]!.mode === 'ERR', {
      timeoutMs: 60_000,
    });
    await sh('qemu-io', ['-f', 'raw', '-c', 'write -P 0x6b 8M 4M', '-c', 'flush', uri]);

    // Unflushed writes in flight while the engine is killed.
    const pid = await enginePid(vol);
    expect(pid).toBeGreaterThan(0);
    // Replica 0 lives in the engine process (the engine's own node): killing "the process
    // serving replica 0" must name the engine.
    const state = JSON.parse(readFileSync(join(vol.dir, 'volume.json'), 'utf8'));
    expect(state.replicas[0].local).toBe(true);
    const writer = spawn('fio', [
      '--name=inflight',
      '--ioengine=nbd',
      `--uri=${uri}`,
      '--rw=randwrite',
      '--bs=64k',
      '--iodepth=16',
      '--offset=32M',
      '--size=64M',
      '--runtime=30',
      '--time_based',
    ]);
    const writerDone = new Promise((r) => writer.on('close', r));
    // fio is writing (the head grew past the 8 MiB written above); it goes on for 30 s.
    await waitFor('fio to be writing', async () => (await vol.headAllocated()) >= 12 * MiB, {
      timeoutMs: 60_000,
    });
    process.kill(pid, 'SIGKILL');
    await writerDone;

    // The instance manager restarts the engine on the same ports and replicas.
    await waitFor(
      'the engine to come back',
      async () => {
        const p = await enginePid(vol);
        return p > 0 && p !== pid;
      },
      { timeoutMs: 60_000 },
    );
    const rows = await vol.replicas();
    expect(rows[2]!.mode).toBe('ERR');
    expect(rows[2]!.error).toMatch(/stale/);
    // The two current replicas were made equal from their write-intent maps: both serve.
    expect(rows.slice(0, 2).map((r) => r.mode)).toEqual(['RW', 'RW']);
    const current = await Promise.all(rows.slice(0, 2).map((r) => vol.replicaHash(r, 128 * MiB)));
    expect(current[0]).toBe(current[1]);

    const a = await sh('qemu-io', ['-f', 'raw', '-c', 'read -P 0x5a 0 4M', '-c', 'read -P 0x6b 8M 4M', uri]);
    expect(a.stdout).not.toMatch(/Pattern verification failed/);

    // The stale replica is replaced by a rebuilt one; all three end up identical.
    await vol.cli('add-replica');
    const after = (await vol.replicas()).filter((r) => r.mode === 'RW');
    expect(after).toHaveLength(3);
    const hashes = await Promise.all(after.map((r) => vol.replicaHash(r, 128 * MiB)));
    expect(new Set(hashes).size).toBe(1);
  }, 180_000);
});
