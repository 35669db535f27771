import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VolumeState } from '../../src/cli/local-volume.js';
import { InstanceManagerClient } from '../../src/instance-manager/client.js';
import { parseReplicaAddress } from '../../src/net/replica-address.js';
import { ReplicaClient } from '../../src/protocol/index.js';
import { LocalVolume } from './cli.js';

const MiB = 1 << 20;
const SIZE = 128 * MiB;

function state(vol: LocalVolume): VolumeState {
  return JSON.parse(readFileSync(join(vol.dir, 'volume.json'), 'utf8')) as VolumeState;
}

/** Pid of a running process of the node's instance manager, 0 when it is not running. */
async function runningPid(imAddress: string, name: string): Promise<number> {
  const im = new InstanceManagerClient(imAddress);
  try {
    const p = await im.get(name);
    return p.state === 'running' ? p.pid : 0;
  } finally {
    im.close();
  }
}

/** The replica's write-intent ranges, asked of its replica server directly. */
async function dirtyRanges(replica: { id: string; address: string }) {
  const client = await ReplicaClient.connect(parseReplicaAddress(replica.address), replica.id, {
    connections: 1,
  });
  try {
    return await client.dirtyRanges();
  } finally {
    await client.close();
  }
}

describe('a replica server stopped cleanly between an engine crash and the engine restart', () => {
  const vol = new LocalVolume();
  let uri = '';
  /** An instance manager held with SIGSTOP; resumed in afterAll if the test failed meanwhile. */
  let held = 0;

  beforeAll(async () => {
    uri = await vol.up(2, '128MiB');
  }, 120_000);

  afterAll(async () => {
    if (held) process.kill(held, 'SIGCONT');
    await vol.down();
  }, 120_000);

  it('keeps its write-intent map, so the restarted engine still reconciles the in-flight ranges', async () => {
    const s = state(vol);
    const engineNode = s.nodes.find((n) => n.name === s.engine.node)!;
    const remote = s.replicas.find((r) => !r.local)!;
    const remoteNode = s.nodes.find((n) => n.name === remote.node)!;
    const enginePid = await runningPid(engineNode.imAddress, s.engine.process);
    const serverPid = await runningPid(remoteNode.imAddress, 'replica-server');
    expect(enginePid).toBeGreaterThan(0);
    expect(serverPid).toBeGreaterThan(0);

    // Writes in flight (8-40 MiB) when the engine is killed.
    const writer = spawn('fio', [
      '--name=inflight',
      '--ioengine=nbd',
      `--uri=${uri}`,
      '--rw=randwrite',
      '--bs=64k',
      '--iodepth=16',
      '--offset=8M',
      '--size=32M',
      '--runtime=30',
      '--time_based',
    ]);
    const writerDone = new Promise((r) => writer.on('close', r));
    await vol.waitFor('fio to be writing', async () => (await dirtyRanges(remote)).length > 0);
    // Hold the engine's instance manager so the engine comes back only after the replica
    // server's clean stop below (it restarts a dead engine within a second otherwise).
    process.kill(engineNode.imPid, 'SIGSTOP');
    held = engineNode.imPid;
    process.kill(enginePid, 'SIGKILL');
    await writerDone;

    // A write in flight that reached the remote replica only, far from every region the local
    // replica marked (fio's range plus its mark-ahead): which of fio's own in-flight writes
    // differ between the replicas is left to chance, this one is not.
    const inflight = 120 * MiB;
    const client = await ReplicaClient.connect(parseReplicaAddress(remote.address), remote.id, {
      connections: 1,
    });
    try {
      await client.write(inflight, Buffer.alloc(64 * 1024, 0xc3));
      await client.flush();
    } finally {
      await client.close();
    }

    // The replica server stops cleanly (SIGTERM closes every replica) and is restarted.
    process.kill(serverPid, 'SIGTERM');
    await vol.waitFor('the replica server to come back', async () => {
      const pid = await runningPid(remoteNode.imAddress, 'replica-server');
      return pid > 0 && pid !== serverPid;
    });
    const ranges = await dirtyRanges(remote);
    expect(ranges.some((r) => r.offset <= inflight && inflight < r.offset + r.length)).toBe(true);

    process.kill(engineNode.imPid, 'SIGCONT');
    held = 0;
    await vol.waitFor(
      'the engine to come back',
      async () => {
        const pid = await runningPid(engineNode.imAddress, s.engine.process);
        return pid > 0 && pid !== enginePid;
      },
      60_000,
    );
    const rows = await vol.replicas();
    expect(rows.map((r) => r.mode)).toEqual(['RW', 'RW']);
    const hashes = await Promise.all(rows.map((r) => vol.replicaHash(r, SIZE)));
    expect(hashes[0]).toBe(hashes[1]);
  }, 180_000);
});
