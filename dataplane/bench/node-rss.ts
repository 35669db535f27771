/**
 * Memory of one node of ours: an instance manager, one replica server hosting 50 replicas and
 * 10 engines (attached volumes, each with one of those replicas), after some I/O through each.
 */
import { readFileSync } from 'node:fs';
import { freePort, stopProcess } from '../src/cli/detached-process.js';
import { startNode } from '../src/cli/local-volume.js';
import { InstanceManagerClient } from '../src/instance-manager/client.js';
import { parseReplicaAddress } from '../src/net/replica-address.js';
import { ReplicaServerAdmin } from '../src/protocol/index.js';
import { fill } from './fio-runner.js';

const REPLICAS = 50;
const ENGINES = 10;
const GiB = 1024 ** 3;

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

export async function measureNodeRss(dir: string): Promise<Record<string, number>> {
  const node = await startNode(dir, 0);
  const im = new InstanceManagerClient(node.imAddress);
  try {
    const admin = await ReplicaServerAdmin.connect(parseReplicaAddress(node.replicaServer));
    for (let i = 0; i < REPLICAS; i++) await admin.create(`r${i}`, { size: GiB });
    await admin.disconnect();
    for (let e = 0; e < ENGINES; e++) {
      const nbd = await freePort(node.address);
      const ctl = await freePort(node.address);
      const proc = await im.create(
        `engine-${e}`,
        'engine',
        [
          '--volume',
          `v${e}`,
          '--replica',
          `r${e}=${node.replicaServer}`,
          '--listen',
          `${node.address}:${nbd}`,
          '--control',
          `${node.address}:${ctl}`,
        ],
        false,
      );
      await fill((JSON.parse(proc.ready) as { nbd: string }).nbd, 32 * 1024 * 1024);
    }
    const procs = await im.list();
    const parts: Record<string, number> = { 'instance-manager': rssMiB(node.imPid) };
    let engines = 0;
    for (const p of procs) {
      if (p.kind === 'engine') engines += rssMiB(p.pid);
      else parts[p.kind] = rssMiB(p.pid);
    }
    parts.engines = engines;
    parts.perEngine = engines / ENGINES;
    parts.total = Object.entries(parts)
      .filter(([k]) => k !== 'perEngine')
      .reduce((sum, [, v]) => sum + v, 0);
    console.log(
      `node RSS with ${REPLICAS} replicas and ${ENGINES} engines: total ${parts.total.toFixed(0)} MiB ` +
        `(instance manager ${parts['instance-manager']!.toFixed(0)}, replica server ${(parts['replica-server'] ?? 0).toFixed(0)}, ` +
        `engines ${engines.toFixed(0)} = ${parts.perEngine.toFixed(0)} each)`,
    );
    return parts;
  } finally {
    const children = (await im.list().catch(() => [])).map((p) => p.pid);
    im.close();
    await stopProcess(node.imPid);
    for (const pid of children) await stopProcess(pid, 5000);
  }
}
