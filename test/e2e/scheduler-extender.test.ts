/**
 * The scheduler extender with the real kube-scheduler: a 3-node cluster in 3 zones (kwok
 * kubelets) whose scheduler configuration points at the extender, the longhorn-ts CRDs, and
 * hand-written Volume/Replica CRs behind static driver.longhorn.io PVs (no CSI driver or operator
 * is needed to schedule).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { NAMESPACE } from '@longhorn-ts/api';
import { extenderStanza } from '@longhorn-ts/scheduler-extender';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { Cluster, formatLogTails, stopAbandonedClusters } from '../src/harness/cluster.js';
import type { KubeObject } from '../src/harness/kubectl.js';
import { installLonghornApi } from '../src/harness/longhorn-api.js';
import { ManagedProcess } from '../src/harness/managed-process.js';
import { freePort, releasePort } from '../src/harness/ports.js';
import { waitForReadyLine } from '../src/harness/ready-line.js';
import { waitFor } from '../src/harness/wait.js';

const skip = process.env.LONGHORN_TS_SKIP_K8S === '1';
const ENTRY = resolve(import.meta.dirname, '../../scheduler-extender/dist/main.js');
const NS = 'default';

interface PodObject extends KubeObject {
  spec: { nodeName?: string };
  status: { phase?: string };
}

interface ReplicaPlacement {
  node: string;
  failed?: boolean;
}

describe.skipIf(skip)('scheduler extender with the real kube-scheduler (3 nodes, 3 zones)', () => {
  let dir: string;
  let cluster: Cluster | undefined;
  let extender: ManagedProcess | undefined;
  let port = 0;
  let extenderUrl = '';

  const kubectl = () => cluster!.kubectl;

  beforeAll(async () => {
    await stopAbandonedClusters(tmpdir(), 'lh-e2e-extender-');
    dir = await mkdtemp(join(tmpdir(), 'lh-e2e-extender-'));
    port = await freePort();
    extenderUrl = `http://127.0.0.1:${port}`;
    // The scheduler is configured with the extender before it runs; until the extender serves,
    // ignorable: true lets the scheduler go on without it.
    cluster = await Cluster.start({
      dir,
      nodes: 3,
      schedulerConfiguration: { extenders: [extenderStanza({ urlPrefix: extenderUrl })] },
    });
    await installLonghornApi(cluster.kubectl);
    extender = ManagedProcess.start({
      name: 'scheduler-extender',
      command: process.execPath,
      args: [ENTRY, '--listen', `127.0.0.1:${port}`],
      env: { ...process.env, KUBECONFIG: cluster.kubeconfig },
      logFile: join(dir, 'logs', 'scheduler-extender.log'),
    });
    const ready = await waitForReadyLine<{ extender: string; pid: number }>('scheduler-extender', extender, [
      'extender',
      'pid',
    ]);
    expect(ready).toEqual({ extender: extenderUrl, pid: extender.pid });
  });

  afterAll(async () => {
    await extender?.stop(2_000).catch(() => undefined);
    await cluster?.stop().catch(() => undefined);
    releasePort(port);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function onFailureShowLogs(): void {
    onTestFailed(async () => {
      if (!cluster) return;
      const files = [
        ...cluster.logFiles().filter((f) => f.name === 'kube-scheduler'),
        { name: 'scheduler-extender', path: join(dir, 'logs', 'scheduler-extender.log') },
      ];
      console.error(await formatLogTails(files, 40));
    });
  }

  /** A Volume CR, its Replica CRs (status set as an instance manager would), and a bound static PV/PVC. */
  async function longhornVolume(
    name: string,
    dataLocality: string,
    replicas: ReplicaPlacement[],
    claim?: string,
    options: { createClaim?: boolean } = {},
  ) {
    await kubectl().apply({
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'Volume',
      metadata: { name, namespace: NAMESPACE },
      spec: {
        size: '1073741824',
        numberOfReplicas: Math.max(1, replicas.length),
        dataLocality,
        accessMode: 'rwo',
      },
    });
    for (const [i, r] of replicas.entries()) {
      const replicaName = `${name}-r-${i}`;
      await kubectl().apply({
        apiVersion: 'longhorn.io/v1beta2',
        kind: 'Replica',
        metadata: { name: replicaName, namespace: NAMESPACE, labels: { longhornvolume: name } },
        spec: {
          volumeName: name,
          nodeID: r.node,
          ...(r.failed ? { failedAt: new Date().toISOString() } : { healthyAt: new Date().toISOString() }),
        },
      });
      await kubectl().run([
        'patch',
        'replicas.longhorn.io',
        replicaName,
        '-n',
        NAMESPACE,
        '--subresource=status',
        '--type=merge',
        '-p',
        JSON.stringify({ status: { currentState: r.failed ? 'error' : 'running', ownerID: r.node } }),
      ]);
    }
    const pvName = `pv-${name}`;
    const pv = {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: pvName },
      spec: {
        capacity: { storage: '1Gi' },
        accessModes: ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Retain',
        storageClassName: '',
        csi: { driver: 'driver.longhorn.io', volumeHandle: name, fsType: 'ext4' },
        ...(claim && {
          claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: NS, name: claim },
        }),
      },
    };
    await kubectl().apply(pv);
    if (claim === undefined || options.createClaim === false) return;
    await kubectl().apply({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: claim, namespace: NS },
      spec: {
        accessModes: ['ReadWriteOnce'],
        storageClassName: '',
        volumeName: pvName,
        resources: { requests: { storage: '1Gi' } },
      },
    });
    await waitFor(`PVC ${claim} bound`, async () => {
      const pvc = await kubectl().get<KubeObject & { status?: { phase?: string } }>('pvc', claim, NS);
      return pvc.status?.phase === 'Bound';
    });
  }

  function podManifest(name: string, claim: string, labels: Record<string, string> = { app: name }): object {
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: NS, labels },
      spec: {
        containers: [{ name: 'app', image: 'busybox' }],
        volumes: [{ name: 'data', persistentVolumeClaim: { claimName: claim } }],
      },
    };
  }

  async function post(verb: string, body: unknown): Promise<unknown> {
    const res = await fetch(`${extenderUrl}/${verb}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return res.json();
  }

  /**
   * Waits until the extender's caches show what the test just wrote (the scheduler may ask about
   * the pod right after it is created): its filter answer for the pod equals `nodes`.
   */
  async function waitForExtenderFilter(pod: object, nodes: string[]): Promise<void> {
    await waitFor(`the extender to filter to ${nodes.join(',')}`, async () => {
      const result = (await post('filter', { Pod: pod, NodeNames: ['node-1', 'node-2', 'node-3'] })) as {
        NodeNames: string[];
      };
      return JSON.stringify(result.NodeNames) === JSON.stringify(nodes);
    });
  }

  async function waitForTopScore(pod: object, node: string): Promise<void> {
    await waitFor(`the extender to score ${node} highest`, async () => {
      const list = (await post('prioritize', { Pod: pod, NodeNames: ['node-1', 'node-2', 'node-3'] })) as {
        Host: string;
        Score: number;
      }[];
      const top = Math.max(...list.map((h) => h.Score));
      return (
        list
          .filter((h) => h.Score === top)
          .map((h) => h.Host)
          .join() === node
      );
    });
  }

  async function scheduledNode(name: string): Promise<string> {
    return waitFor(`pod ${name} scheduled and Running`, async () => {
      const pod = await kubectl().get<PodObject>('pod', name, NS);
      return pod.spec.nodeName && pod.status.phase === 'Running' ? pod.spec.nodeName : undefined;
    });
  }

  it('places strict-local pods on the node of their healthy replica', async () => {
    onFailureShowLogs();
    // Two pods on different nodes: a lucky default placement would be 1 in 9.
    const cases = [
      { pod: 'strict-a', volume: 'vol-strict-a', node: 'node-2', failedOn: 'node-1' },
      { pod: 'strict-b', volume: 'vol-strict-b', node: 'node-3', failedOn: 'node-2' },
    ];
    for (const c of cases) {
      await longhornVolume(
        c.volume,
        'strict-local',
        [{ node: c.node }, { node: c.failedOn, failed: true }],
        `${c.pod}-data`,
      );
      const manifest = podManifest(c.pod, `${c.pod}-data`);
      await waitForExtenderFilter(manifest, [c.node]);
      await kubectl().apply(manifest);
    }
    for (const c of cases) expect(await scheduledNode(c.pod)).toBe(c.node);
  });

  it('keeps a strict-local pod pending while no node holds a healthy replica, with our reason', async () => {
    onFailureShowLogs();
    await longhornVolume('vol-failed', 'strict-local', [{ node: 'node-1', failed: true }], 'stuck-data');
    const manifest = podManifest('stuck', 'stuck-data');
    await waitForExtenderFilter(manifest, []);
    await kubectl().apply(manifest);
    const message = await waitFor('a FailedScheduling event for pod stuck', async () => {
      const out = await kubectl().run([
        'get',
        'events',
        '-n',
        NS,
        '--field-selector',
        'involvedObject.name=stuck,reason=FailedScheduling',
        '-o',
        'jsonpath={.items[*].message}',
      ]);
      return out.includes('vol-failed') ? out : undefined;
    });
    expect(message).toContain('strict-local volume vol-failed');
    const pod = await kubectl().get<PodObject>('pod', 'stuck', NS);
    expect(pod.spec.nodeName).toBeUndefined();
  });

  it('prefers the replica node for best-effort pods', async () => {
    onFailureShowLogs();
    const cases = [
      { pod: 'best-a', volume: 'vol-best-a', node: 'node-3' },
      { pod: 'best-b', volume: 'vol-best-b', node: 'node-1' },
    ];
    for (const c of cases) {
      await longhornVolume(c.volume, 'best-effort', [{ node: c.node }], `${c.pod}-data`);
      const manifest = podManifest(c.pod, `${c.pod}-data`);
      await waitForTopScore(manifest, c.node);
      await kubectl().apply(manifest);
    }
    for (const c of cases) expect(await scheduledNode(c.pod)).toBe(c.node);
  });

  it('spreads the pods of a 3-replica StatefulSet with Longhorn volumes over the 3 zones', async () => {
    onFailureShowLogs();
    // Static PVs waiting for the claims the StatefulSet will make (data-web-0..2).
    for (const i of [0, 1, 2])
      await longhornVolume(`vol-web-${i}`, 'disabled', [], `data-web-${i}`, { createClaim: false });
    await kubectl().apply({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'web', namespace: NS },
      spec: {
        replicas: 3,
        serviceName: 'web',
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            containers: [
              { name: 'app', image: 'busybox', volumeMounts: [{ name: 'data', mountPath: '/data' }] },
            ],
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: 'data' },
            spec: {
              accessModes: ['ReadWriteOnce'],
              storageClassName: '',
              resources: { requests: { storage: '1Gi' } },
            },
          },
        ],
      },
    });
    const nodes = await Promise.all([0, 1, 2].map((i) => scheduledNode(`web-${i}`)));
    const zones = await Promise.all(
      nodes.map(async (n) => {
        const node = await kubectl().get<{ metadata: { labels?: Record<string, string> } }>('node', n);
        return node.metadata.labels?.['topology.kubernetes.io/zone'];
      }),
    );
    expect(new Set(zones).size).toBe(3);
  });

  it('stops on SIGTERM, and with the extender down pods still schedule (ignorable)', async () => {
    onFailureShowLogs();
    await extender!.stop(5_000);
    expect(await extender!.exited).toBe(0);
    // The same kind of pod as `stuck` (only a failed replica): the extender would refuse every node.
    await longhornVolume('vol-outage', 'strict-local', [{ node: 'node-1', failed: true }], 'outage-data');
    await kubectl().apply(podManifest('outage', 'outage-data'));
    expect(['node-1', 'node-2', 'node-3']).toContain(await scheduledNode('outage'));
  });
});
