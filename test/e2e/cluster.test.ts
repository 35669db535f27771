import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { installVolumeSnapshotCrds } from '../src/harness/addons.js';
import { binaryPath, hasBinary, volumeSnapshotCrdDir } from '../src/harness/binaries.js';
import { Cluster, stopAbandonedClusters } from '../src/harness/cluster.js';
import { stateFile } from '../src/harness/cluster-state.js';
import { probeOk } from '../src/harness/http-probe.js';
import type { KubeObject } from '../src/harness/kubectl.js';
import { groupAlive, ManagedProcess } from '../src/harness/managed-process.js';
import { REGION_LABEL, ZONE_LABEL } from '../src/harness/node-specs.js';
import { freePort } from '../src/harness/ports.js';
import { waitFor } from '../src/harness/wait.js';

const skip = process.env.LONGHORN_TS_SKIP_K8S === '1';
const run = promisify(execFile);

interface Condition {
  type: string;
  status: string;
}
interface NodeObject extends KubeObject {
  metadata: { name: string; labels: Record<string, string> };
  status: { conditions: Condition[]; addresses: { type: string; address: string }[] };
}
interface PodObject extends KubeObject {
  spec: { nodeName?: string };
  status: { phase?: string; conditions?: Condition[]; podIP?: string; hostIP?: string };
}

/** A minimal Longhorn Setting CRD (longhorn.io/v1beta2), enough to prove CRDs work here. */
const settingCrd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'settings.longhorn.io' },
  spec: {
    group: 'longhorn.io',
    scope: 'Namespaced',
    names: {
      kind: 'Setting',
      listKind: 'SettingList',
      plural: 'settings',
      singular: 'setting',
      shortNames: ['lhs'],
    },
    versions: [
      {
        name: 'v1beta2',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              value: { type: 'string' },
              status: { type: 'object', properties: { applied: { type: 'boolean' } } },
            },
            required: ['value'],
          },
        },
        subresources: { status: {} },
      },
    ],
  },
};

/** Running (non-zombie) processes whose command line mentions `text`. */
function processesMentioning(text: string): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text);
      } catch {
        return false;
      }
    })
    .map(Number);
}

function conditionTrue(conditions: Condition[] | undefined, type: string): boolean {
  return conditions?.some((c) => c.type === type && c.status === 'True') ?? false;
}

describe.skipIf(skip)('a real control plane with kwok nodes', () => {
  let dir: string;
  let cluster: Cluster;
  let startMs: number;

  beforeAll(async () => {
    await stopAbandonedClusters(tmpdir(), 'lh-e2e-');
    dir = await mkdtemp(join(tmpdir(), 'lh-e2e-cluster-'));
    const t0 = Date.now();
    cluster = await Cluster.start({ dir });
    startMs = Date.now() - t0;
    process.stdout.write(`[cluster.test] cluster of 3 nodes started in ${(startMs / 1000).toFixed(1)} s\n`);
  });

  afterAll(async () => {
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function dumpLogsOnFailure(): void {
    onTestFailed(async () => {
      process.stderr.write(`${await cluster.logTails(60)}\n`);
    });
  }

  it('starts warm in under 30 s', () => {
    expect(startMs).toBeLessThan(30_000);
  });

  it('has 3 Ready nodes in 3 zones of one region, at their loopback addresses', async () => {
    dumpLogsOnFailure();
    const nodes = await cluster.kubectl.list<NodeObject>('nodes');
    expect(nodes.map((n) => n.metadata.name).sort()).toEqual(['node-1', 'node-2', 'node-3']);
    for (const node of nodes) expect(conditionTrue(node.status.conditions, 'Ready')).toBe(true);
    expect(new Set(nodes.map((n) => n.metadata.labels[ZONE_LABEL])).size).toBe(3);
    expect(new Set(nodes.map((n) => n.metadata.labels[REGION_LABEL])).size).toBe(1);
    const internal = nodes
      .map((n) => n.status.addresses.find((a) => a.type === 'InternalIP')?.address)
      .sort();
    expect(internal).toEqual(cluster.nodeSpecs.map((s) => s.address).sort());
  });

  it('serves a CRD of longhorn.io/v1beta2 and a custom object of it', async () => {
    dumpLogsOnFailure();
    await cluster.kubectl.apply(settingCrd);
    await cluster.kubectl.waitForCondition('crd/settings.longhorn.io', 'Established', { timeoutMs: 30_000 });
    await cluster.kubectl.apply({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'longhorn-system' },
    });
    await cluster.kubectl.apply({
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'Setting',
      metadata: { name: 'default-replica-count', namespace: 'longhorn-system' },
      value: '3',
    });
    const setting = await cluster.kubectl.get<KubeObject & { value: string }>(
      'settings.longhorn.io',
      'default-replica-count',
      'longhorn-system',
    );
    expect(setting.value).toBe('3');
    // The schema is enforced by the real API server.
    await expect(
      cluster.kubectl.apply({
        apiVersion: 'longhorn.io/v1beta2',
        kind: 'Setting',
        metadata: { name: 'bad', namespace: 'longhorn-system' },
        value: 3,
      }),
    ).rejects.toThrow(/value/);
  });

  it.skipIf(!existsSync(volumeSnapshotCrdDir()))(
    'serves the VolumeSnapshot CRDs of external-snapshotter',
    async () => {
      dumpLogsOnFailure();
      await installVolumeSnapshotCrds(cluster.kubectl);
      await cluster.kubectl.apply({
        apiVersion: 'snapshot.storage.k8s.io/v1',
        kind: 'VolumeSnapshotClass',
        metadata: { name: 'longhorn-snapshot' },
        driver: 'driver.longhorn.io',
        deletionPolicy: 'Delete',
        parameters: { type: 'snap' },
      });
      const cls = await cluster.kubectl.get<KubeObject & { driver: string }>(
        'volumesnapshotclass',
        'longhorn-snapshot',
      );
      expect(cls.driver).toBe('driver.longhorn.io');
    },
  );

  it.skipIf(!hasBinary('snapshot-controller') || !existsSync(volumeSnapshotCrdDir()))(
    'runs the snapshot-controller built alongside against this API server',
    async () => {
      dumpLogsOnFailure();
      await installVolumeSnapshotCrds(cluster.kubectl);
      const port = await freePort();
      const controller = ManagedProcess.start({
        name: 'snapshot-controller',
        command: binaryPath('snapshot-controller'),
        args: [
          `--kubeconfig=${cluster.kubeconfig}`,
          '--leader-election=false',
          `--http-endpoint=127.0.0.1:${port}`,
        ],
        logFile: join(dir, 'logs', 'snapshot-controller.log'),
      });
      try {
        await waitFor('snapshot-controller metrics', () => probeOk(`http://127.0.0.1:${port}/metrics`), {
          timeoutMs: 30_000,
        });
        expect(controller.running).toBe(true);
      } finally {
        await controller.stop();
      }
    },
  );

  it.skipIf(!hasBinary('helm'))('answers helm', async () => {
    dumpLogsOnFailure();
    const { stdout } = await run(binaryPath('helm'), [
      '--kubeconfig',
      cluster.kubeconfig,
      'list',
      '--all-namespaces',
      '-o',
      'json',
    ]);
    expect(JSON.parse(stdout)).toEqual([]);
  });

  it('has the real scheduler place a pod on a node, and kwok run it', async () => {
    dumpLogsOnFailure();
    await cluster.kubectl.apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'hello', namespace: 'default' },
      spec: { containers: [{ name: 'hello', image: 'registry.k8s.io/pause:3.10' }] },
    });
    await cluster.kubectl.waitForCondition('pod/hello', 'Ready', { namespace: 'default', timeoutMs: 60_000 });
    const pod = await cluster.kubectl.get<PodObject>('pod', 'hello', 'default');
    expect(pod.status.phase).toBe('Running');
    expect(['node-1', 'node-2', 'node-3']).toContain(pod.spec.nodeName);
    expect(conditionTrue(pod.status.conditions, 'PodScheduled')).toBe(true);
    const events = await cluster.kubectl.list<
      KubeObject & { reason: string; source?: { component?: string } }
    >('events', 'default');
    expect(events.some((e) => e.reason === 'Scheduled')).toBe(true);
  });

  it("starts a simulated node's processes with its identity, and kills them as a lost node", async () => {
    dumpLogsOnFailure();
    const node = cluster.node('node-2');
    const out = join(node.dataDir, 'env.json');
    const proc = await node.start({
      name: 'probe',
      command: process.execPath,
      args: [
        '-e',
        `require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify({ name: process.env.NODE_NAME, ip: process.env.NODE_IP, zone: process.env.NODE_ZONE })); setInterval(() => {}, 1000);`,
      ],
    });
    const seen = await waitFor('the probe process to write its environment', async () =>
      existsSync(out) ? (JSON.parse(await readFile(out, 'utf8')) as Record<string, string>) : undefined,
    );
    expect(seen).toEqual({ name: 'node-2', ip: node.address, zone: node.spec.zone });
    expect(groupAlive(proc.pid)).toBe(true);
    await node.kill();
    expect(groupAlive(proc.pid)).toBe(false);
    expect(node.running).toBe(false);
  });

  it('stops cleanly, leaving no process and no state behind', async () => {
    dumpLogsOnFailure();
    // A node process still running at shutdown is stopped too.
    await cluster.node('node-1').start({ name: 'idle', command: 'sleep', args: ['600'] });
    const records = cluster.processRecords();
    expect(records.map((r) => r.name)).toEqual(
      expect.arrayContaining([
        'etcd',
        'kube-apiserver',
        'kube-controller-manager',
        'kube-scheduler',
        'kwok',
        'node-1/idle',
      ]),
    );
    const t0 = Date.now();
    await cluster.stop();
    process.stdout.write(`[cluster.test] cluster stopped in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    expect(records.filter((r) => groupAlive(r.pgid))).toEqual([]);
    expect(processesMentioning(dir)).toEqual([]);
    expect(existsSync(stateFile(dir))).toBe(false);
  });
});

describe.skipIf(skip)('a cluster start that fails', () => {
  it('says which component failed, with its log, and leaves nothing running', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lh-e2e-fail-'));
    try {
      const err = await Cluster.start({ dir, apiserverArgs: ['--no-such-flag=1'] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(/kube-apiserver exited before it was ready/);
      expect((err as Error).message).toMatch(/unknown flag: --no-such-flag/);
      expect(existsSync(stateFile(dir))).toBe(false);
      expect(existsSync(join(dir, 'logs', 'etcd.log'))).toBe(true);
      expect(processesMentioning(dir)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
