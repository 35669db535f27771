import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentRecords } from '../src/harness/cluster.js';
import { apiTicketYaml, volumeYaml } from '../src/harness/longhorn-volumes.js';
import { defaultNodeSpecs } from '../src/harness/node-specs.js';
import { ExitedEarlyError } from '../src/harness/readiness.js';
import { findReadyLine, logOffset, waitForReadyLine } from '../src/harness/ready-line.js';
import { SimulatedNode } from '../src/harness/simulated-node.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lh-harness-longhorn-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ready lines', () => {
  it('finds the first JSON line with the keys, skipping log records and other output', () => {
    const text = [
      'Debugger listening',
      '{"level":30,"msg":"listening","address":"127.0.0.11:1"}',
      '{"node":"node-1"',
      '{"node":"node-1","address":"127.0.0.11:9500","pid":7}',
      '{"node":"node-1","address":"127.0.0.11:9501","pid":8}',
    ].join('\n');
    expect(findReadyLine(text, ['address'])).toEqual({ node: 'node-1', address: '127.0.0.11:9500', pid: 7 });
    expect(findReadyLine(text, ['metrics'])).toBeUndefined();
  });

  it('waits for a process to print it after an offset, and fails at once when the process exits first', async () => {
    const node = new SimulatedNode({
      spec: defaultNodeSpecs(1)[0]!,
      dataDir: join(dir, 'node'),
      logDir: join(dir, 'logs'),
      kubeconfig: join(dir, 'kubeconfig'),
    });
    const script =
      'console.log(JSON.stringify({node: process.env.NODE_NAME, metrics: "m", pid: process.pid}));';
    const first = await node.start({ name: 'op', command: process.execPath, args: ['-e', script] });
    const line = await waitForReadyLine<{ node: string; pid: number }>('op', first, [
      'node',
      'metrics',
      'pid',
    ]);
    expect(line).toEqual({ node: 'node-1', metrics: 'm', pid: first.pid });
    await first.exited;

    // A second start appends to the same log: the earlier line does not count.
    const offset = await logOffset(node.logFile('op'));
    const second = await node.start({
      name: 'op',
      command: process.execPath,
      args: ['-e', 'process.exit(3)'],
    });
    await expect(
      waitForReadyLine('op', second, ['node', 'metrics', 'pid'], { offset, timeoutMs: 10_000 }),
    ).rejects.toBeInstanceOf(ExitedEarlyError);
  });
});

describe('cluster records', () => {
  it('keeps the newest record of a restarted process', () => {
    const rec = (name: string, pid: number) => ({ name, pid, pgid: pid, logFile: '', command: '', args: [] });
    const records = currentRecords({
      processes: [
        rec('etcd', 1),
        rec('node-1/operator', 2),
        rec('node-1/instance-manager', 3),
        rec('node-1/operator', 4),
      ],
    });
    expect(records.map((r) => [r.name, r.pid])).toEqual([
      ['etcd', 1],
      ['node-1/operator', 4],
      ['node-1/instance-manager', 3],
    ]);
  });
});

describe('Longhorn YAML', () => {
  it('writes a Volume and a longhorn-api ticket as a Longhorn user would', () => {
    expect(volumeYaml('v', { size: '67108864', extra: { replicaSoftAntiAffinity: 'disabled' } })).toBe(
      [
        'apiVersion: longhorn.io/v1beta2',
        'kind: Volume',
        'metadata:',
        '  name: v',
        '  namespace: longhorn-system',
        'spec:',
        '  size: "67108864"',
        '  numberOfReplicas: 3',
        '  frontend: blockdev',
        '  dataLocality: disabled',
        '  accessMode: rwo',
        '  replicaSoftAntiAffinity: "disabled"',
        '',
      ].join('\n'),
    );
    expect(apiTicketYaml('v', 'node-1')).toContain(
      '    longhorn-api-v:\n      id: longhorn-api-v\n      type: longhorn-api\n      nodeID: node-1',
    );
  });
});
