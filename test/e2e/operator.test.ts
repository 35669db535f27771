import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  DATA_KEY_ROTATION_BANDWIDTH_ANNOTATION,
  DATA_KEY_ROTATION_CONDITION,
  DATA_KEY_ROTATION_REQUEST_ANNOTATION,
  DATA_KEY_ROTATION_RESULT_ANNOTATION,
  type InstanceManager,
  isTicketSatisfied,
  KEK_ROTATION_INTERVAL_ANNOTATION,
  KEK_ROTATION_REQUEST_ANNOTATION,
  KEK_ROTATION_RESULT_ANNOTATION,
  KEK_ROTATION_SCHEDULED_RESULT_ANNOTATION,
  type KekRotationResult,
  type Node as LonghornNodeCr,
  NAMESPACE,
  parseDataKeyRotationResult,
  parseRotationResult,
  type Setting,
  type Volume,
} from '@longhorn-ts/api';
import { ReplicaServerAdmin } from '@longhorn-ts/dataplane/protocol/admin-client';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { Cluster, stopAbandonedClusters } from '../src/harness/cluster.js';
import { cryptoSecretYaml } from '../src/harness/crypto-secret.js';
import { loopDevicesUnder, mountsUnder } from '../src/harness/host-cleanup.js';
import type { KubeObject } from '../src/harness/kubectl.js';
import { kubeletPaths } from '../src/harness/kubelet-csi.js';
import { LocalKmsServer } from '../src/harness/local-kms.js';
import { csiAvailable } from '../src/harness/longhorn-csi.js';
import { type DataPlaneProcess, listDataPlaneProcesses } from '../src/harness/longhorn-system.js';
import {
  applyYaml,
  attachByTicket,
  condition,
  enginesOf,
  getAttachment,
  getVolume,
  isAttachedHealthy,
  LH,
  removeTicket,
  replicasOf,
  snapshotsOf,
  snapshotYaml,
  volumeYaml,
  waitForEndpoint,
  waitForVolume,
} from '../src/harness/longhorn-volumes.js';
import { groupAlive } from '../src/harness/managed-process.js';
import { waitFor } from '../src/harness/wait.js';

const skip = process.env.LONGHORN_TS_SKIP_K8S === '1';
const exec = promisify(execFile);
const SIZE = '67108864'; // 64 MiB
const DATA_BYTES = 8 << 20;

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

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Data-plane processes of an instance manager that belong to `volume` (by name or arguments). */
function processesOf(processes: DataPlaneProcess[], volume: string): DataPlaneProcess[] {
  return processes.filter((p) => p.name.includes(volume) || p.args.some((a) => a.includes(volume)));
}

describe.skipIf(skip)('longhorn-ts on 3 nodes in 3 zones: the operator drives the data plane', () => {
  let dir: string;
  let work: string;
  let cluster: Cluster;
  let startMs = 0;

  beforeAll(async () => {
    await stopAbandonedClusters(tmpdir(), 'lh-e2e-operator-');
    dir = await mkdtemp(join(tmpdir(), 'lh-e2e-operator-'));
    work = join(dir, 'work');
    await mkdir(work);
    const t0 = Date.now();
    // A failed start stops what it started and throws with every log's tail.
    cluster = await Cluster.start({ dir, nodes: 3, longhorn: true, timeoutMs: 150_000 });
    startMs = Date.now() - t0;
    process.stdout.write(
      `[operator.test] cluster with longhorn-ts started in ${(startMs / 1000).toFixed(1)} s\n`,
    );
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function dumpLogsOnFailure(): void {
    onTestFailed(async () => {
      process.stderr.write(`${await cluster.logTails(40)}\n`);
    });
  }

  const kubectl = () => cluster.kubectl;
  const zoneOf = (node: string) => cluster.nodeSpecs.find((s) => s.name === node)?.zone;
  const dataPlane = (node: string) =>
    listDataPlaneProcesses(cluster.longhorn.node(node).instanceManagerAddress);

  async function nbdcopy(args: string[]): Promise<void> {
    await exec('nbdcopy', args, { timeout: 120_000 });
  }

  /** The whole volume through its NBD endpoint. */
  async function readVolume(uri: string, name: string): Promise<Buffer> {
    const out = join(work, `${name}-${Date.now()}.bin`);
    await nbdcopy([uri, out]);
    const data = await readFile(out);
    await rm(out, { force: true });
    return data;
  }

  it('installs longhorn-ts: CRDs, default Settings, a Node CR with one disk per node, an instance manager and an operator per node', async () => {
    dumpLogsOnFailure();
    expect(startMs).toBeLessThan(120_000);
    const nodes = await kubectl().list<LonghornNodeCr>(LH.nodes, NAMESPACE);
    expect(nodes.map((n) => n.metadata.name).sort()).toEqual(['node-1', 'node-2', 'node-3']);
    for (const n of nodes) {
      const disks = Object.values(n.spec.disks ?? {});
      expect(disks, `${n.metadata.name}'s disks`).toHaveLength(1);
      expect(disks[0]?.path).toBe(cluster.node(n.metadata.name).dataDir);
    }
    await waitFor('every Node CR to report its zone', async () => {
      const current = await kubectl().list<LonghornNodeCr>(LH.nodes, NAMESPACE);
      return current.every((n) => n.status?.zone === zoneOf(n.metadata.name));
    });
    const replicaCount = await kubectl().get<Setting>(LH.settings, 'default-replica-count', NAMESPACE);
    expect(replicaCount.value).toBe('3');
    const ims = await kubectl().list<InstanceManager>(LH.instanceManagers, NAMESPACE);
    expect(ims.map((im) => im.spec.nodeID).sort()).toEqual(['node-1', 'node-2', 'node-3']);
    for (const node of cluster.longhorn.nodes) {
      expect(node.instanceManager?.running, `${node.name}'s instance manager`).toBe(true);
      expect(node.operator?.running, `${node.name}'s operator`).toBe(true);
      await expect(dataPlane(node.name)).resolves.toBeInstanceOf(Array);
    }
  });

  describe('one volume, from YAML to deletion', () => {
    const vol = 'vol-e2e';
    let uri = '';
    let data: Buffer;
    let replicaDirs: string[] = [];

    it('a Volume applied with kubectl gets 3 replicas on 3 nodes in 3 zones', async () => {
      dumpLogsOnFailure();
      await applyYaml(kubectl(), volumeYaml(vol, { size: SIZE, numberOfReplicas: 3 }));
      await waitForVolume(kubectl(), vol, 'scheduled and detached', (v) => {
        return condition(v, 'Scheduled')?.status === 'True' && v.status?.state === 'detached';
      });
      const replicas = await waitFor('3 placed replicas', async () => {
        const rs = await replicasOf(kubectl(), vol);
        return rs.length === 3 && rs.every((r) => r.spec.nodeID) ? rs : undefined;
      });
      const nodes = replicas.map((r) => r.spec.nodeID!);
      expect(new Set(nodes).size).toBe(3);
      expect(new Set(nodes.map(zoneOf)).size).toBe(3);
    });

    it('attaches through a longhorn-api ticket: attached and healthy on node-1, the Engine serves an nbd:// endpoint', async () => {
      dumpLogsOnFailure();
      const ticket = await attachByTicket(kubectl(), vol, 'node-1');
      await waitForVolume(
        kubectl(),
        vol,
        'attached to node-1 and healthy',
        isAttachedHealthy('node-1'),
        120_000,
      );
      uri = await waitForEndpoint(kubectl(), vol);
      const engines = await enginesOf(kubectl(), vol);
      expect(engines).toHaveLength(1);
      expect(engines[0]?.spec.nodeID).toBe('node-1');
      await waitFor('the ticket to be satisfied', async () => {
        const attachment = await getAttachment(kubectl(), vol);
        return attachment !== undefined && isTicketSatisfied(attachment, ticket);
      });
      const { stdout } = await exec('nbdinfo', ['--size', uri]);
      expect(stdout.trim()).toBe(SIZE);
    });

    it('serves bytes: 8 MiB written with nbdcopy read back the same, the rest zeros', async () => {
      dumpLogsOnFailure();
      data = randomBytes(DATA_BYTES);
      const source = join(work, 'data.bin');
      await writeFile(source, data);
      await nbdcopy([source, uri]);
      const back = await readVolume(uri, 'after-write');
      expect(back.length).toBe(Number(SIZE));
      expect(sha256(back.subarray(0, DATA_BYTES))).toBe(sha256(data));
      expect(back.subarray(DATA_BYTES).every((b) => b === 0)).toBe(true);
    });

    it("node-3's replica server killed: degraded, rebuilt when its instance manager restarts it, healthy, data unchanged", async () => {
      dumpLogsOnFailure();
      const before = await dataPlane('node-3');
      const server = before.find((p) => p.kind === 'replica-server' && p.state === 'running');
      expect(server, `node-3 runs a replica server: ${JSON.stringify(before)}`).toBeDefined();
      const onNode3 = (await replicasOf(kubectl(), vol)).find((r) => r.spec.nodeID === 'node-3');
      expect(onNode3).toBeDefined();
      const robustness = kubectl().watchField(LH.volumes, vol, '{.status.robustness}', NAMESPACE);
      try {
        await waitFor('the watch to report', () => robustness.values.length > 0, { timeoutMs: 10_000 });
        process.kill(server!.pid, 'SIGKILL');
        await waitFor('the volume to be reported degraded', () => robustness.values.includes('degraded'), {
          timeoutMs: 30_000,
        });
        await waitFor('the instance manager to restart the replica server', async () => {
          const now = await dataPlane('node-3');
          return now.some((p) => p.name === server!.name && p.state === 'running' && p.pid !== server!.pid);
        });
        const healthy = await waitForVolume(
          kubectl(),
          vol,
          'healthy again with 3 replicas',
          (v) => v.status?.robustness === 'healthy' && v.status.state === 'attached',
          120_000,
        );
        expect(healthy.status?.currentNodeID).toBe('node-1');
      } finally {
        robustness.stop();
      }
      const engine = (await enginesOf(kubectl(), vol))[0];
      const modes = Object.values(engine?.status?.replicaModeMap ?? {});
      expect(modes).toEqual(['RW', 'RW', 'RW']);
      const replicas = await replicasOf(kubectl(), vol);
      expect(replicas.map((r) => r.spec.nodeID).sort()).toEqual(['node-1', 'node-2', 'node-3']);
      // Rebuilt on its node when it returned (its data reused), not replaced by a new replica.
      expect(replicas.find((r) => r.spec.nodeID === 'node-3')?.metadata.name).toBe(onNode3?.metadata.name);
      const back = await readVolume(uri, 'after-rebuild');
      expect(sha256(back.subarray(0, DATA_BYTES))).toBe(sha256(data));
    }, 210_000);

    it("the Setting node-rebuild-backup-mbytes-per-second reaches every node's replica server online; 0 lifts it", async () => {
      dumpLogsOnFailure();
      const budgets = async () =>
        Promise.all(
          ['node-1', 'node-2', 'node-3'].map(async (node) => {
            const server = (await dataPlane(node)).find(
              (p) => p.kind === 'replica-server' && p.state === 'running',
            );
            const tcp = (JSON.parse(server?.ready || '{}') as { tcp?: { host: string; port: number } }).tcp;
            if (tcp === undefined) return undefined;
            const admin = await ReplicaServerAdmin.connect(tcp);
            try {
              return await admin.bulkBandwidth();
            } finally {
              await admin.disconnect();
            }
          }),
        );
      const setBudget = (mib: string) =>
        kubectl().run([
          'patch',
          LH.settings,
          'node-rebuild-backup-mbytes-per-second',
          '-n',
          NAMESPACE,
          '--type=merge',
          '-p',
          JSON.stringify({ value: mib }),
        ]);
      expect(await budgets()).toEqual([0, 0, 0]);
      await setBudget('8');
      // One disk per node: each server holds the whole node budget, 8 MiB/s.
      await waitFor('every replica server to hold 8 MiB/s', async () =>
        (await budgets()).every((b) => b === 8 * 1024 * 1024),
      );
      await setBudget('0');
      await waitFor('every replica server to be unlimited again', async () =>
        (await budgets()).every((b) => b === 0),
      );
    });

    it('a Snapshot CR becomes readyToUse', async () => {
      dumpLogsOnFailure();
      await applyYaml(kubectl(), snapshotYaml('snap-e2e-1', vol));
      const snap = await kubectl().waitForObject<KubeObject & { status?: { readyToUse?: boolean } }>(
        LH.snapshots,
        'snap-e2e-1',
        (s) => s.status?.readyToUse === true,
        { namespace: NAMESPACE },
      );
      expect(snap.status?.readyToUse).toBe(true);
    });

    it('QoS limits set on the Volume reach the engine online: fio through NBD holds them, the read IOPS metric shows it; removing them lifts them', async () => {
      dumpLogsOnFailure();
      const k = kubectl();
      await k.run([
        'patch',
        LH.volumes,
        vol,
        '-n',
        NAMESPACE,
        '--type=merge',
        '-p',
        '{"spec":{"qos":{"iops":100}}}',
      ]);
      const applied = await waitFor('the engine and the volume to report the limit', async () => {
        const [engine] = await enginesOf(k, vol);
        const v = await getVolume(k, vol);
        return engine?.status?.qos?.limits?.iops === 100 && v?.status?.qos?.limits?.iops === 100
          ? engine
          : undefined;
      });
      expect(applied.spec.qos).toEqual({ iops: 100 });
      // The same NBD endpoint as before: the limit changed without a reconnect or restart.
      expect(await waitForEndpoint(k, vol)).toBe(uri);
      const fio = exec('fio', [
        '--name=qos',
        '--ioengine=nbd',
        `--uri=${uri}`,
        '--rw=randread',
        '--bs=4k',
        '--iodepth=8',
        '--size=32m',
        '--time_based',
        '--ramp_time=1',
        '--runtime=6',
        '--output-format=json',
      ]);
      // While fio runs, the operator running the engine reports the volume's read IOPS
      // (Longhorn's metric) as the rate between its last two polls (2 s apart). A window that
      // holds fio's start also holds the limit's 1 s burst, so it may read up to 1.5x the limit;
      // never more. The last scrape's window lies in the steady state.
      const metricIops = async () => {
        const scraped = await fetch(`http://${cluster.longhorn.node('node-1').metricsAddress}/metrics`);
        const line = (await scraped.text())
          .split('\n')
          .find((l) => l.startsWith('longhorn_volume_read_iops{') && l.includes(`volume="${vol}"`));
        return line === undefined ? undefined : Number(line.split(' ').at(-1));
      };
      const scrapeWhileFioRuns = async () => {
        const scrapes: (number | undefined)[] = [];
        await new Promise((r) => setTimeout(r, 1000));
        for (let i = 0; i < 12; i++) {
          scrapes.push(await metricIops());
          await new Promise((r) => setTimeout(r, 500));
        }
        return scrapes;
      };
      // Both awaited together: a failed assertion never leaves fio running into the next test.
      const [{ stdout }, scrapes] = await Promise.all([fio, scrapeWhileFioRuns()]);
      expect(scrapes.every((v) => v !== undefined)).toBe(true);
      expect(Math.max(...(scrapes as number[]))).toBeLessThan(160);
      expect(scrapes.at(-1)).toBeGreaterThan(70);
      expect(scrapes.at(-1)).toBeLessThan(130);
      const iops = (JSON.parse(stdout.slice(stdout.indexOf('{'))) as { jobs: { read: { iops: number } }[] })
        .jobs[0]!.read.iops;
      expect(iops).toBeGreaterThan(85);
      expect(iops).toBeLessThan(115);
      const throttled = await waitFor('throttled requests in the volume status', async () => {
        const q = (await getVolume(k, vol))?.status?.qos;
        return (q?.throttledRequests ?? 0) > 0 ? q : undefined;
      });
      expect(throttled.throttledMs).toBeGreaterThan(0);
      await k.run([
        'patch',
        LH.volumes,
        vol,
        '-n',
        NAMESPACE,
        '--type=json',
        '-p',
        '[{"op":"remove","path":"/spec/qos"}]',
      ]);
      await waitFor('the engine to drop the limit', async () => {
        const [engine] = await enginesOf(k, vol);
        return engine?.spec.qos === undefined && engine?.status?.qos?.limits !== undefined
          ? Object.keys(engine.status.qos.limits).length === 0
          : false;
      });
    }, 120_000);

    it('removing the ticket detaches it: detached, no engine process left', async () => {
      dumpLogsOnFailure();
      await removeTicket(kubectl(), vol, `longhorn-api-${vol}`);
      await waitForVolume(
        kubectl(),
        vol,
        'detached',
        (v) => v.status?.state === 'detached' && !v.status.currentNodeID,
        60_000,
      );
      await waitFor('no engine process of the volume on node-1', async () => {
        const engines = processesOf(await dataPlane('node-1'), vol).filter((p) => p.kind === 'engine');
        return engines.every((p) => p.state === 'stopped');
      });
    });

    it('deleting the Volume removes its Replica, Engine and Snapshot CRs, processes and data directories', async () => {
      dumpLogsOnFailure();
      const replicas = await replicasOf(kubectl(), vol);
      replicaDirs = replicas.map((r) =>
        join(r.spec.diskPath ?? '', 'replicas', r.spec.dataDirectoryName ?? ''),
      );
      expect(replicaDirs).toHaveLength(3);
      for (const d of replicaDirs) expect(existsSync(d), d).toBe(true);
      await kubectl().run(['delete', LH.volumes, vol, '-n', NAMESPACE, '--wait=true'], {
        timeoutMs: 120_000,
      });
      await waitFor(
        'no Replica, Engine, Snapshot or VolumeAttachment of the volume',
        async () =>
          (await replicasOf(kubectl(), vol)).length === 0 &&
          (await enginesOf(kubectl(), vol)).length === 0 &&
          (await snapshotsOf(kubectl(), vol)).length === 0 &&
          (await getAttachment(kubectl(), vol)) === undefined,
        { timeoutMs: 60_000 },
      );
      await waitFor('its data directories to be removed', () => replicaDirs.every((d) => !existsSync(d)), {
        timeoutMs: 60_000,
      });
      for (const node of cluster.nodes) {
        const left = processesOf(await dataPlane(node.name), vol).filter((p) => p.state !== 'stopped');
        expect(left, `${node.name} still runs processes of ${vol}`).toEqual([]);
      }
    });
  });

  it('a Volume of 4 replicas with hard node anti-affinity on 3 nodes says why in its Scheduled condition', async () => {
    dumpLogsOnFailure();
    const vol = 'vol-four';
    await applyYaml(
      kubectl(),
      volumeYaml(vol, { size: SIZE, numberOfReplicas: 4, extra: { replicaSoftAntiAffinity: 'disabled' } }),
    );
    const v = await waitForVolume(
      kubectl(),
      vol,
      'unschedulable',
      (x) => condition(x, 'Scheduled')?.status === 'False',
    );
    const scheduled = condition(v, 'Scheduled')!;
    expect(scheduled.reason).toBe('ReplicaSchedulingFailure');
    expect(scheduled.message).toMatch(/node anti-affinity/);
    await kubectl().run(['delete', LH.volumes, vol, '-n', NAMESPACE, '--wait=false']);
  });

  it('a Volume of size "0" is refused by the admission webhook with its message', async () => {
    dumpLogsOnFailure();
    await expect(
      applyYaml(kubectl(), volumeYaml('vol-zero-denied', { size: '0', numberOfReplicas: 3 })),
    ).rejects.toThrow(/denied the request.*size/i);
    expect(await getVolume(kubectl(), 'vol-zero-denied')).toBeUndefined();
  });

  it('without the webhooks, a Volume with a value the schema allows and the operator refuses (size "0") gets a condition or event naming it; no operator restarts', async () => {
    dumpLogsOnFailure();
    const vol = 'vol-zero';
    const pids = cluster.longhorn.nodes.map((n) => n.operator?.pid);
    // As on a cluster without our webhooks: the bad value reaches the operator.
    const saved = await kubectl().get<KubeObject>(
      'validatingwebhookconfiguration',
      'longhorn-webhook-validator',
    );
    await kubectl().run(['delete', 'validatingwebhookconfiguration', 'longhorn-webhook-validator']);
    try {
      await waitFor('the Volume to be accepted without the validating webhook', async () => {
        await applyYaml(kubectl(), volumeYaml(vol, { size: '0', numberOfReplicas: 3 }));
        return true;
      });
    } finally {
      const {
        resourceVersion: _rv,
        uid: _uid,
        creationTimestamp: _ct,
        managedFields: _mf,
        ...metadata
      } = saved.metadata as Record<string, unknown>;
      await kubectl().apply([{ ...saved, metadata }]);
    }
    const reason = await waitFor(
      'a condition or a Warning event about the size',
      async () => {
        const v = await getVolume(kubectl(), vol);
        const fromCondition = v?.status?.conditions?.find((c) => /size/i.test(c.message ?? ''))?.message;
        if (fromCondition) return fromCondition;
        const events = await kubectl().list<
          KubeObject & { type?: string; message?: string; involvedObject?: { name?: string } }
        >('events', NAMESPACE);
        return events.find(
          (e) => e.involvedObject?.name === vol && e.type === 'Warning' && /size/i.test(e.message ?? ''),
        )?.message;
      },
      { timeoutMs: 30_000 },
    );
    expect(reason).toMatch(/size/i);
    process.stdout.write(`[operator.test] size "0" refused: ${reason}\n`);
    expect(await replicasOf(kubectl(), vol)).toEqual([]);
    for (const node of cluster.longhorn.nodes)
      expect(node.operator?.running, `${node.name}'s operator`).toBe(true);
    expect(cluster.longhorn.nodes.map((n) => n.operator?.pid)).toEqual(pids);
    await kubectl().run(['delete', LH.volumes, vol, '-n', NAMESPACE, '--wait=false']);
  });

  it("a killed operator's volume is taken over by another node (status.ownerID)", async () => {
    dumpLogsOnFailure();
    const vol = 'vol-owner';
    await applyYaml(kubectl(), volumeYaml(vol, { size: SIZE, numberOfReplicas: 3 }));
    const owned = await waitForVolume(kubectl(), vol, 'owned', (v) => Boolean(v.status?.ownerID));
    const owner = owned.status!.ownerID!;
    const node = cluster.longhorn.node(owner);
    await node.killOperator();
    const after = await waitForVolume(
      kubectl(),
      vol,
      `owned by a node other than ${owner}`,
      (v) => Boolean(v.status?.ownerID) && v.status?.ownerID !== owner,
      90_000,
    );
    expect(cluster.nodeSpecs.map((s) => s.name)).toContain(after.status!.ownerID);
    await node.startOperator();
    await kubectl().run(['delete', LH.volumes, vol, '-n', NAMESPACE, '--wait=false']);
  });

  it('an operator killed mid-attach converges after its restart', async () => {
    dumpLogsOnFailure();
    const vol = 'vol-midattach';
    await applyYaml(kubectl(), volumeYaml(vol, { size: SIZE, numberOfReplicas: 3 }));
    await waitForVolume(kubectl(), vol, 'scheduled', (v) => condition(v, 'Scheduled')?.status === 'True');
    const node = cluster.longhorn.node('node-2');
    await attachByTicket(kubectl(), vol, 'node-2');
    const seen = await waitFor(
      'the attach to begin',
      async () => {
        const v: Volume | undefined = await getVolume(kubectl(), vol);
        const state = v?.status?.state;
        return state === 'attaching' || state === 'attached' ? state : undefined;
      },
      { intervalMs: 10, maxIntervalMs: 25, timeoutMs: 60_000 },
    );
    await node.killOperator();
    process.stdout.write(`[operator.test] node-2's operator killed with the volume ${seen}\n`);
    await node.startOperator();
    await waitForVolume(
      kubectl(),
      vol,
      'attached to node-2 and healthy',
      isAttachedHealthy('node-2'),
      120_000,
    );
    const uri = await waitForEndpoint(kubectl(), vol);
    const { stdout } = await exec('nbdinfo', ['--size', uri]);
    expect(stdout.trim()).toBe(SIZE);
    await removeTicket(kubectl(), vol, `longhorn-api-${vol}`);
    await waitForVolume(kubectl(), vol, 'detached', (v) => v.status?.state === 'detached', 60_000);
  });

  it("a strict-local pod lands on the node of its volume's replica (the scheduler asks our extender)", async () => {
    dumpLogsOnFailure();
    const vol = 'vol-local';
    await applyYaml(
      kubectl(),
      volumeYaml(vol, { size: SIZE, numberOfReplicas: 1, extra: { dataLocality: 'strict-local' } }),
    );
    const replicaNode = await waitFor('the replica of the strict-local volume to be scheduled', async () => {
      const [r] = await replicasOf(kubectl(), vol);
      return r?.spec?.nodeID || undefined;
    });
    const pv = `pv-${vol}`;
    await kubectl().apply([
      {
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name: pv },
        spec: {
          capacity: { storage: '64Mi' },
          accessModes: ['ReadWriteOnce'],
          persistentVolumeReclaimPolicy: 'Retain',
          storageClassName: '',
          csi: { driver: 'driver.longhorn.io', volumeHandle: vol, fsType: 'ext4' },
          claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: 'default', name: vol },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: vol, namespace: 'default' },
        spec: {
          accessModes: ['ReadWriteOnce'],
          storageClassName: '',
          volumeName: pv,
          resources: { requests: { storage: '64Mi' } },
        },
      },
    ]);
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'local-app', namespace: 'default' },
      spec: {
        containers: [{ name: 'app', image: 'busybox' }],
        volumes: [{ name: 'data', persistentVolumeClaim: { claimName: vol } }],
      },
    };
    // The extender's caches see the bound claim before the pod exists (it answers from them).
    await waitFor('the extender to keep only the replica node', async () => {
      const res = await fetch(`${cluster.extenderUrl}/filter`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ Pod: pod, NodeNames: cluster.nodeSpecs.map((n) => n.name) }),
      });
      const body = (await res.json()) as { NodeNames?: string[] };
      return JSON.stringify(body.NodeNames) === JSON.stringify([replicaNode]);
    });
    await kubectl().apply(pod);
    const placed = await waitFor('the pod to be scheduled', async () => {
      const p = await kubectl().get<KubeObject & { spec: { nodeName?: string } }>(
        'pod',
        'local-app',
        'default',
      );
      return p.spec.nodeName || undefined;
    });
    expect(placed).toBe(replicaNode);
    await kubectl().run([
      'delete',
      'pod',
      'local-app',
      '-n',
      'default',
      '--grace-period=0',
      '--force',
      '--wait=false',
    ]);
    await kubectl().run(['delete', 'pvc', vol, '-n', 'default', '--wait=false']);
    await kubectl().run(['delete', 'pv', pv, '--wait=false']);
    await kubectl().run(['delete', LH.volumes, vol, '-n', NAMESPACE, '--wait=false']);
  });

  describe.skipIf(!csiAvailable())(
    'encrypted volumes from Longhorn YAML (StorageClass encrypted + crypto Secret)',
    () => {
      /** Bytes no ciphertext holds by chance: 32 printable bytes, repeated. */
      const PATTERN = Buffer.from('LONGHORN-TS-E2E-PLAINTEXT-0042\n\n');
      const CRYPTO = 'longhorn-crypto-e2e';
      const PASSPHRASE = 'an e2e passphrase, not a real one';
      const cryptoYaml = cryptoSecretYaml(CRYPTO, PASSPHRASE);
      /** Longhorn's global crypto StorageClass (its examples), `secret` named in every place. */
      const classYaml = (
        name: string,
        secret: string,
        provisionerSecret: boolean,
      ) => `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: ${name}}
provisioner: driver.longhorn.io
parameters:
  numberOfReplicas: "2"
  staleReplicaTimeout: "2880"
  encrypted: "true"
${provisionerSecret ? `  csi.storage.k8s.io/provisioner-secret-name: ${secret}\n  csi.storage.k8s.io/provisioner-secret-namespace: ${NAMESPACE}\n` : ''}  csi.storage.k8s.io/node-publish-secret-name: ${secret}
  csi.storage.k8s.io/node-publish-secret-namespace: ${NAMESPACE}
  csi.storage.k8s.io/node-stage-secret-name: ${secret}
  csi.storage.k8s.io/node-stage-secret-namespace: ${NAMESPACE}
`;
      const claimYaml = (name: string, storageClass: string) => `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: ${name}, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: ${storageClass}
  resources: {requests: {storage: 64Mi}}
`;
      const podYaml = (name: string, claim: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: default}
spec:
  containers: [{name: app, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: ${claim}}}]
`;
      type Pod = KubeObject & {
        spec: { nodeName?: string };
        status?: { conditions?: { type: string; status: string }[] };
      };
      const podReady = (p: Pod) =>
        p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

      /**
       * Every file of the volume's replica directories on every node: how many, which hold the
       * pattern, and how many 4 KiB blocks of the layer files (.img) are not zeros.
       */
      function scanReplicas(volume: string): { files: number; hits: string[]; nonZeroBlocks: number } {
        const needle = PATTERN.subarray(0, 24);
        let files = 0;
        let nonZeroBlocks = 0;
        const hits: string[] = [];
        const walk = (d: string) => {
          for (const e of readdirSync(d, { withFileTypes: true })) {
            const p = join(d, e.name);
            if (e.isDirectory()) walk(p);
            else if (e.isFile()) {
              files++;
              const bytes = readFileSync(p);
              if (bytes.includes(needle)) hits.push(p);
              // Layer files only (the metadata files are JSON).
              if (e.name.endsWith('.img'))
                for (let i = 0; i < bytes.length; i += 4096) if (bytes[i] !== 0) nonZeroBlocks++;
            }
          }
        };
        for (const n of cluster.nodes) {
          const root = join(n.dataDir, 'replicas');
          if (!existsSync(root)) continue;
          for (const r of readdirSync(root)) if (r.includes(volume)) walk(join(root, r));
        }
        return { files, hits, nonZeroBlocks };
      }

      async function mountedPod(name: string, claim: string, pvName: string): Promise<string> {
        await kubectl().apply(podYaml(name, claim));
        const pod = await kubectl().waitForObject<Pod>('pod', name, podReady, {
          namespace: 'default',
          timeoutMs: 180_000,
        });
        return kubeletPaths(cluster.node(pod.spec.nodeName!).dataDir, {
          driverName: 'driver.longhorn.io',
          pvName,
          volumeHandle: pvName,
          podUid: String(pod.metadata.uid),
          accessType: 'mount',
        }).targetPath;
      }

      /** Asks for a KEK rotation through the Volume's annotation; the operator's answer. */
      async function rotateKek(pvName: string, token: string): Promise<KekRotationResult> {
        await kubectl().run([
          'annotate',
          LH.volumes,
          pvName,
          '-n',
          NAMESPACE,
          `${KEK_ROTATION_REQUEST_ANNOTATION}=${token}`,
          '--overwrite',
        ]);
        return waitFor(
          `the KEK rotation ${token} of ${pvName} to be answered`,
          async () => {
            const v = await getVolume(kubectl(), pvName);
            const r = parseRotationResult(v?.metadata.annotations?.[KEK_ROTATION_RESULT_ANNOTATION]);
            return r?.request === token ? r : undefined;
          },
          { timeoutMs: 60_000, maxIntervalMs: 500 },
        );
      }

      async function keyRecord(pvName: string): Promise<{ text: string; keyId: string; provider: string }> {
        const secret = await kubectl().get<KubeObject & { data: Record<string, string> }>(
          'secret',
          `longhorn-ts-keys-${pvName}`,
          NAMESPACE,
        );
        const text = Buffer.from(secret.data['key-record.json']!, 'base64').toString('utf8');
        const record = JSON.parse(text) as { envelope: { keyId: string }; kek: { provider: string } };
        return { text, keyId: record.envelope.keyId, provider: record.kek.provider };
      }

      async function writePattern(target: string, bytes: number): Promise<Buffer> {
        const data = Buffer.alloc(bytes);
        for (let o = 0; o < data.length; o += PATTERN.length) PATTERN.copy(data, o);
        // Written and fsynced through the mount: the bytes are on every replica when this returns.
        const fh = await open(join(target, 'pattern.txt'), 'w');
        try {
          await fh.write(data);
          await fh.sync();
        } finally {
          await fh.close();
        }
        return data;
      }

      async function deletePod(name: string, pvName: string): Promise<void> {
        await kubectl().run(['delete', 'pod', name, '-n', 'default', '--wait=true', '--timeout=120s']);
        await waitFor(
          `volume ${pvName} to detach`,
          async () => (await getVolume(kubectl(), pvName))?.status?.state === 'detached',
          { timeoutMs: 120_000, maxIntervalMs: 500 },
        );
      }

      it('a PVC of an encrypted class: the file written through the pod is nowhere in the replica files; it reads back after detach and attach; the key record holds no key', async () => {
        dumpLogsOnFailure();
        const k = kubectl();
        await k.apply(cryptoYaml);
        await k.apply(classYaml('longhorn-crypto-global', CRYPTO, true));
        await k.apply(claimYaml('secret-data', 'longhorn-crypto-global'));
        const pvc = await k.waitForObject<
          KubeObject & { spec: { volumeName?: string }; status?: { phase?: string } }
        >('pvc', 'secret-data', (p) => p.status?.phase === 'Bound', {
          namespace: 'default',
          timeoutMs: 120_000,
        });
        const pvName = pvc.spec.volumeName!;
        expect((await getVolume(k, pvName))?.spec.encrypted).toBe(true);

        let target = await mountedPod('crypt-app', 'secret-data', pvName);
        const data = await writePattern(target, 4 << 20);
        const written = scanReplicas(pvName);
        expect(written.files).toBeGreaterThan(0);
        // 2 replicas x 4 MiB of file at least, as ciphertext: data is there, the pattern is not.
        expect(written.nonZeroBlocks).toBeGreaterThan(2 * 1024);
        expect(written.hits).toEqual([]);

        const record = await k.get<KubeObject & { data: Record<string, string> }>(
          'secret',
          `longhorn-ts-keys-${pvName}`,
          NAMESPACE,
        );
        const recordText = Buffer.from(record.data['key-record.json']!, 'base64').toString('utf8');
        expect(JSON.parse(recordText)).toMatchObject({
          envelope: { cipher: 'aes-256-xts', keyId: expect.stringMatching(/^kek-[0-9a-f]{16}$/) },
          kek: { provider: 'secret', kdf: { name: 'scrypt' } },
        });
        expect(recordText).not.toContain('passphrase');
        const runKeys = cluster.nodes.flatMap((n) =>
          existsSync(join(n.dataDir, 'run', 'keys')) ? readdirSync(join(n.dataDir, 'run', 'keys')) : [],
        );
        expect(runKeys, 'KEK hand-over files left behind').toEqual([]);
        await waitFor(
          'the EncryptionKey condition to be True',
          async () => condition(await getVolume(k, pvName), 'EncryptionKey')?.status === 'True',
        );

        // The passphrase changes: the Secret keeps the old one as CRYPTO_PREVIOUS_KEY_VALUE while a
        // rotation re-wraps the data key (no data touched), then the old one can go.
        const before = (await keyRecord(pvName)).keyId;
        await k.apply(cryptoSecretYaml(CRYPTO, 'the new e2e passphrase', PASSPHRASE));
        const rotated = await rotateKek(pvName, 'e2e-1');
        expect(rotated).toMatchObject({
          error: '',
          from: before,
          to: expect.stringMatching(/^kek-[0-9a-f]{16}$/),
        });
        expect(rotated.to).not.toBe(before);
        expect((await keyRecord(pvName)).keyId).toBe(rotated.to);
        await k.apply(cryptoSecretYaml(CRYPTO, 'the new e2e passphrase'));

        // On a schedule: an interval annotation rotates by itself, with a token of its own.
        await k.run([
          'annotate',
          LH.volumes,
          pvName,
          '-n',
          NAMESPACE,
          `${KEK_ROTATION_INTERVAL_ANNOTATION}=2s`,
        ]);
        const scheduledResult = async () =>
          parseRotationResult(
            (await getVolume(k, pvName))?.metadata.annotations?.[KEK_ROTATION_SCHEDULED_RESULT_ANNOTATION],
          );
        await waitFor(
          `a scheduled KEK rotation of ${pvName}`,
          async () => {
            const r = await scheduledResult();
            // (One that read the Secret while the old passphrase was still in it is tried again.)
            return r?.request.startsWith('scheduled-') && r.error === '' ? r : undefined;
          },
          { timeoutMs: 60_000, maxIntervalMs: 500 },
        );
        await k.run([
          'annotate',
          LH.volumes,
          pvName,
          '-n',
          NAMESPACE,
          `${KEK_ROTATION_INTERVAL_ANNOTATION}-`,
        ]);
        // Every 2 s another may have run before the annotation went: the record holds the newest.
        let seen = '';
        const scheduled = await waitFor(
          'the key record to hold the newest scheduled key',
          async () => {
            const r = await scheduledResult();
            const id = (await keyRecord(pvName)).keyId;
            seen = `result ${JSON.stringify(r)}, record key ${id}`;
            return r?.request.startsWith('scheduled-') && r.error === '' && id === r.to ? r : undefined;
          },
          { timeoutMs: 30_000, maxIntervalMs: 500 },
        ).catch((err: Error) => {
          err.message += `; last: ${seen}`;
          throw err;
        });
        expect(scheduled).toMatchObject({
          error: '',
          from: expect.stringMatching(/^kek-[0-9a-f]{16}$/),
          to: expect.stringMatching(/^kek-[0-9a-f]{16}$/),
        });
        expect(scheduled.to).not.toBe(scheduled.from);
        expect(scheduled.to).not.toBe(rotated.to);
        // The on-demand answer is still the one to the on-demand request (not rotated again).
        const onDemand = (await getVolume(k, pvName))?.metadata.annotations?.[KEK_ROTATION_RESULT_ANNOTATION];
        expect(parseRotationResult(onDemand)).toEqual(rotated);

        // Detach and attach again: the engine unwraps the same data key with the new passphrase.
        await deletePod('crypt-app', pvName);
        target = await mountedPod('crypt-app-2', 'secret-data', pvName);
        expect(sha256(await readFile(join(target, 'pattern.txt')))).toBe(sha256(data));
        expect(scanReplicas(pvName).hits).toEqual([]);
        await deletePod('crypt-app-2', pvName);
        await k.run(['delete', 'pvc', 'secret-data', '-n', 'default', '--wait=true', '--timeout=120s']);
        await waitFor(
          'the Volume and its key record to go',
          async () =>
            (await k.tryGet(LH.volumes, pvName, NAMESPACE)) === undefined &&
            (await k.tryGet('secret', `longhorn-ts-keys-${pvName}`, NAMESPACE)) === undefined,
          { timeoutMs: 120_000, maxIntervalMs: 500 },
        );
      }, 600_000);

      it('a data-key rotation re-encrypts an encrypted PVC online: progress in its DataKeyRotation condition, an operator restart, a detach and an attach to another node, an engine kill midway, both keys at each engine start; the file reads back, no replica holds it in plaintext, the key record holds the new data key', async () => {
        dumpLogsOnFailure();
        const k = kubectl();
        const t0 = Date.now();
        const step = (what: string) =>
          process.stdout.write(
            `[operator.test] data-key rotation: ${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
          );
        const secret = 'longhorn-crypto-dk';
        await k.apply(cryptoSecretYaml(secret, PASSPHRASE));
        await k.apply(classYaml('longhorn-crypto-dk', secret, false));
        await k.apply(claimYaml('dk-data', 'longhorn-crypto-dk'));
        const pvc = await k.waitForObject<
          KubeObject & { spec: { volumeName?: string }; status?: { phase?: string } }
        >('pvc', 'dk-data', (p) => p.status?.phase === 'Bound', { namespace: 'default', timeoutMs: 120_000 });
        const pvName = pvc.spec.volumeName!;
        let target = await mountedPod('dk-app', 'dk-data', pvName);
        const data = await writePattern(target, 4 << 20);
        const before = JSON.parse((await keyRecord(pvName)).text) as { envelope: { wrappedKey: string } };
        step('file written');

        const rotation = async () => condition(await getVolume(k, pvName), DATA_KEY_ROTATION_CONDITION);
        const percentOf = (message: string | undefined) =>
          Number(/: (\d+)% \(/.exec(message ?? '')?.[1] ?? -1);
        // 1.5 MiB/s over the 64 MiB volume: about 45 s, time for restarts and a detach midway.
        await k.run([
          'annotate',
          LH.volumes,
          pvName,
          '-n',
          NAMESPACE,
          `${DATA_KEY_ROTATION_BANDWIDTH_ANNOTATION}=1572864`,
          `${DATA_KEY_ROTATION_REQUEST_ANNOTATION}=dk-1`,
        ]);
        const first = await waitFor(
          'the DataKeyRotation condition to show progress',
          async () => {
            const c = await rotation();
            return c?.reason === 'InProgress' && percentOf(c.message) > 0 ? percentOf(c.message) : undefined;
          },
          { timeoutMs: 60_000, maxIntervalMs: 500 },
        );
        const node = (await getVolume(k, pvName))!.status!.currentNodeID!;
        step(`${first}% on ${node}`);

        // The engine goes on alone; the operator that comes back picks the rotation up.
        await cluster.longhorn.node(node).killOperator();
        await cluster.longhorn.node(node).startOperator();
        const resumed = await waitFor(
          'progress reported again after the operator restart',
          async () => {
            const p = percentOf((await rotation())?.message);
            return p > first ? p : undefined;
          },
          { timeoutMs: 60_000, maxIntervalMs: 500 },
        );
        step(`operator restarted, ${resumed}%`);

        // Detached midway: paused; attached to another node, its engine gets both data keys and
        // goes on from the watermark the replicas hold.
        await deletePod('dk-app', pvName);
        const paused = await waitFor(
          'the condition to say the rotation is paused',
          async () => {
            const c = await rotation();
            return c?.reason === 'InProgress' && c.message?.includes('paused') ? c.message : undefined;
          },
          { timeoutMs: 60_000, maxIntervalMs: 500 },
        );
        expect(paused).toContain(
          'it goes on from where it stopped when the volume is attached (to any node)',
        );
        step('detached: paused');
        // Attached to another node (a Longhorn ticket: no mount to lose when its engine dies).
        const other = node === 'node-1' ? 'node-2' : 'node-1';
        const ticket = await attachByTicket(k, pvName, other);
        const engineOf = async () =>
          processesOf(await dataPlane(other), pvName).find(
            (p) => p.args.includes('--encryption') && p.state === 'running',
          );
        const engine = await waitFor('the engine to run again', engineOf, {
          timeoutMs: 120_000,
          maxIntervalMs: 500,
        });
        expect(engine.args).toContain('--previous-encryption');
        // It goes on from its watermark, not from the start.
        const again = await waitFor(
          'progress from the restarted engine',
          async () => {
            const c = await rotation();
            return c?.reason === 'InProgress' && percentOf(c.message) >= 0 ? percentOf(c.message) : undefined;
          },
          { timeoutMs: 60_000, maxIntervalMs: 500 },
        );
        expect(again).toBeGreaterThanOrEqual(resumed);
        step(`attached to ${other} with both keys, ${again}%`);

        // Its engine dies mid-rotation: the volume comes back with an engine given both keys again.
        process.kill(engine.pid, 'SIGKILL');
        const restarted = await waitFor(
          'a new engine process',
          async () => {
            const e = await engineOf();
            return e && e.pid !== engine.pid ? e : undefined;
          },
          { timeoutMs: 120_000, maxIntervalMs: 500 },
        );
        expect(restarted.args).toContain('--previous-encryption');
        step('engine killed and started again with both keys');
        const result = await waitFor(
          'the data-key rotation dk-1 to be answered',
          async () =>
            parseDataKeyRotationResult(
              (await getVolume(k, pvName))?.metadata.annotations?.[DATA_KEY_ROTATION_RESULT_ANNOTATION],
            ),
          { timeoutMs: 180_000, maxIntervalMs: 500 },
        );
        step('done');
        expect(result).toMatchObject({
          request: 'dk-1',
          error: '',
          from: expect.stringMatching(/^dk-[0-9a-f]{16}$/),
          to: expect.stringMatching(/^dk-[0-9a-f]{16}$/),
        });
        expect(result.to).not.toBe(result.from);
        expect(await rotation()).toMatchObject({ status: 'True', reason: 'Completed' });
        const secretData = (
          await k.get<KubeObject & { data: Record<string, string> }>(
            'secret',
            `longhorn-ts-keys-${pvName}`,
            NAMESPACE,
          )
        ).data;
        const after = JSON.parse(Buffer.from(secretData['key-record.json']!, 'base64').toString('utf8')) as {
          envelope: { wrappedKey: string };
        };
        expect(after.envelope.wrappedKey).not.toBe(before.envelope.wrappedKey);
        const mark = JSON.parse(
          Buffer.from(secretData['data-key-rotation.json']!, 'base64').toString('utf8'),
        );
        // No snapshot holds blocks under the old key: it is gone from the record.
        expect(mark).toMatchObject({ request: 'dk-1', node, from: result.from, to: result.to });
        expect(mark.doneAt).toBeTruthy();
        expect(mark.previous).toBeUndefined();
        expect(scanReplicas(pvName).hits).toEqual([]);

        // Detach and attach again: the engine starts with the new data key alone.
        await removeTicket(k, pvName, ticket);
        await waitFor(
          `volume ${pvName} to detach`,
          async () => (await getVolume(k, pvName))?.status?.state === 'detached',
          { timeoutMs: 120_000, maxIntervalMs: 500 },
        );
        // Detached, a new request is answered at once: it must be attached.
        await k.run([
          'annotate',
          LH.volumes,
          pvName,
          '-n',
          NAMESPACE,
          `${DATA_KEY_ROTATION_REQUEST_ANNOTATION}=dk-2`,
          '--overwrite',
        ]);
        const refused = await waitFor(
          'the data-key rotation dk-2 to be answered',
          async () => {
            const r = parseDataKeyRotationResult(
              (await getVolume(k, pvName))?.metadata.annotations?.[DATA_KEY_ROTATION_RESULT_ANNOTATION],
            );
            return r?.request === 'dk-2' ? r : undefined;
          },
          { timeoutMs: 60_000, maxIntervalMs: 500 },
        );
        expect(refused).toMatchObject({
          from: '',
          to: '',
          error: expect.stringContaining('is not attached'),
        });
        target = await mountedPod('dk-app-3', 'dk-data', pvName);
        expect(sha256(await readFile(join(target, 'pattern.txt')))).toBe(sha256(data));
        step('read back');
        await deletePod('dk-app-3', pvName);
        await k.run(['delete', 'pvc', 'dk-data', '-n', 'default', '--wait=true', '--timeout=120s']);
        await waitFor(
          'the Volume and its key record to go',
          async () =>
            (await k.tryGet(LH.volumes, pvName, NAMESPACE)) === undefined &&
            (await k.tryGet('secret', `longhorn-ts-keys-${pvName}`, NAMESPACE)) === undefined,
          { timeoutMs: 120_000, maxIntervalMs: 500 },
        );
      }, 600_000);

      it('a PVC whose crypto Secret is missing does not attach: the Volume condition and an Event name the Secret; it attaches once the Secret exists', async () => {
        dumpLogsOnFailure();
        const k = kubectl();
        const missing = 'longhorn-crypto-missing';
        // No provisioner secret: the volume is made, and the attach is where the key is needed.
        await k.apply(classYaml('longhorn-crypto-missing', missing, false));
        await k.apply(claimYaml('no-key-data', 'longhorn-crypto-missing'));
        const pvc = await k.waitForObject<
          KubeObject & { spec: { volumeName?: string }; status?: { phase?: string } }
        >('pvc', 'no-key-data', (p) => p.status?.phase === 'Bound', {
          namespace: 'default',
          timeoutMs: 120_000,
        });
        const pvName = pvc.spec.volumeName!;
        await k.apply(podYaml('no-key-app', 'no-key-data'));
        const want = `volume ${pvName} cannot attach: crypto Secret ${NAMESPACE}/${missing} (named by PersistentVolume ${pvName}'s nodeStageSecretRef) not found`;
        const cond = await waitFor(
          'the EncryptionKey condition to say the Secret is missing',
          async () => {
            const c = condition(await getVolume(k, pvName), 'EncryptionKey');
            return c?.status === 'False' ? c : undefined;
          },
          { timeoutMs: 120_000, maxIntervalMs: 500 },
        );
        expect(cond).toMatchObject({ reason: 'EncryptionKeyUnavailable', message: want });
        const events = await k.list<
          KubeObject & { reason?: string; message?: string; involvedObject?: { name?: string } }
        >('events', NAMESPACE);
        expect(
          events
            .filter((e) => e.involvedObject?.name === pvName && e.reason === 'EncryptionKeyUnavailable')
            .map((e) => e.message),
        ).toContain(want);
        expect(
          (await k.get<Pod>('pod', 'no-key-app', 'default')).status?.conditions?.some(
            (c) => c.type === 'Ready' && c.status === 'True',
          ),
        ).not.toBe(true);
        // Nothing was written: no replica layer holds data.
        expect(scanReplicas(pvName).nonZeroBlocks).toBe(0);

        // The Secret appears: the next try attaches and the pod turns Ready.
        await k.apply(cryptoYaml.replace(`name: ${CRYPTO}`, `name: ${missing}`));
        await k.waitForObject<Pod>('pod', 'no-key-app', podReady, {
          namespace: 'default',
          timeoutMs: 180_000,
        });
        await waitFor(
          'the EncryptionKey condition to be True',
          async () => condition(await getVolume(k, pvName), 'EncryptionKey')?.status === 'True',
        );
        await deletePod('no-key-app', pvName);
        await k.run(['delete', 'pvc', 'no-key-data', '-n', 'default', '--wait=true', '--timeout=120s']);
        await k.run(['delete', 'secret', CRYPTO, missing, '-n', NAMESPACE, '--ignore-not-found']);
        await k.run([
          'delete',
          'storageclass',
          'longhorn-crypto-global',
          'longhorn-crypto-missing',
          '--ignore-not-found',
        ]);
      }, 600_000);

      it.skipIf(!LocalKmsServer.available())(
        'a KMS crypto Secret (local-kms): the KEK comes from GenerateDataKey, rotation to another KMS key is a ReEncrypt, the old key id is then refused by name',
        async () => {
          dumpLogsOnFailure();
          const k = kubectl();
          const kms = await LocalKmsServer.start(2, dir);
          const [keyA, keyB] = kms.keyIds as [string, string];
          const secret = 'longhorn-crypto-kms';
          const laps: string[] = [];
          let lapStart = Date.now();
          const lap = (what: string) => {
            laps.push(`${what} ${((Date.now() - lapStart) / 1000).toFixed(1)} s`);
            lapStart = Date.now();
          };
          let pvName = '';
          try {
            await k.apply(kms.secretYaml(secret, keyA));
            await k.apply(classYaml('longhorn-crypto-kms', secret, true));
            await k.apply(claimYaml('kms-data', 'longhorn-crypto-kms'));
            const pvc = await k.waitForObject<
              KubeObject & { spec: { volumeName?: string }; status?: { phase?: string } }
            >('pvc', 'kms-data', (p) => p.status?.phase === 'Bound', {
              namespace: 'default',
              timeoutMs: 120_000,
            });
            pvName = pvc.spec.volumeName!;
            let target = await mountedPod('kms-app', 'kms-data', pvName);
            lap('attach');
            const data = await writePattern(target, 1 << 20);
            expect(scanReplicas(pvName).hits).toEqual([]);
            const first = await keyRecord(pvName);
            expect(first.provider).toBe('kms');
            expect(first.text).toContain(keyA);

            // To key B: KMS re-wraps the KEK (ReEncrypt); the envelope (data key wrap) stays.
            await k.apply(kms.secretYaml(secret, keyB, { KMS_PREVIOUS_KEY_ID: keyA }));
            const rotated = await rotateKek(pvName, 'kms-1');
            lap('rotate');
            expect(rotated).toMatchObject({ error: '', from: first.keyId, to: first.keyId });
            expect((await keyRecord(pvName)).text).toContain(keyB);
            await k.apply(kms.secretYaml(secret, keyB));
            await deletePod('kms-app', pvName);
            lap('detach');
            target = await mountedPod('kms-app-2', 'kms-data', pvName);
            lap('attach again');
            expect(sha256(await readFile(join(target, 'pattern.txt')))).toBe(sha256(data));
            await deletePod('kms-app-2', pvName);
            lap('detach again');

            // The Secret names the old key again: refused by KMS, and the condition says which key.
            // (Attached by a Longhorn ticket, not a pod: the csi-attacher would back off after the
            // refused attach and hold the PV's deletion for minutes.)
            await k.apply(kms.secretYaml(secret, keyA));
            const ticket = await attachByTicket(k, pvName, 'node-1');
            const cond = await waitFor(
              'the EncryptionKey condition to name the refused KMS key',
              async () => {
                const c = condition(await getVolume(k, pvName), 'EncryptionKey');
                return c?.status === 'False' ? c : undefined;
              },
              { timeoutMs: 120_000, maxIntervalMs: 500 },
            );
            lap('the refusal');
            expect(cond?.message).toMatch(
              new RegExp(
                `crypto Secret ${NAMESPACE}/${secret}: volume ${pvName} is encrypted with key ${first.keyId}; KMS_KEY_ID: KMS key ${keyA} \\(.*wrapped by .*${keyB}\\): refused by KMS \\(InvalidCiphertextException`,
              ),
            );
            await removeTicket(k, pvName, ticket);
            await waitFor(
              `volume ${pvName} to detach`,
              async () => (await getVolume(k, pvName))?.status?.state === 'detached',
              { timeoutMs: 120_000, maxIntervalMs: 500 },
            );
            lap('detach after the refusal');
          } finally {
            await k
              .run([
                'delete',
                'pod',
                'kms-app',
                'kms-app-2',
                '-n',
                'default',
                '--ignore-not-found',
                '--wait=true',
                '--timeout=120s',
              ])
              .catch(() => undefined);
            await k
              .run([
                'delete',
                'pvc',
                'kms-data',
                '-n',
                'default',
                '--ignore-not-found',
                '--wait=true',
                '--timeout=120s',
              ])
              .catch(() => undefined);
            if (pvName)
              await waitFor(
                'the KMS volume to go',
                async () => (await k.tryGet(LH.volumes, pvName, NAMESPACE)) === undefined,
                {
                  timeoutMs: 120_000,
                  maxIntervalMs: 500,
                },
              ).catch(() => undefined);
            await k
              .run(['delete', 'secret', secret, '-n', NAMESPACE, '--ignore-not-found'])
              .catch(() => undefined);
            await k
              .run(['delete', 'storageclass', 'longhorn-crypto-kms', '--ignore-not-found'])
              .catch(() => undefined);
            await kms.stop();
            lap('clean-up');
            process.stdout.write(`[operator.test] encrypted volume with KMS: ${laps.join(', ')}\n`);
          }
        },
        600_000,
      );
    },
  );

  it('stops with no process, mount or loop device left', async () => {
    dumpLogsOnFailure();
    const records = cluster.processRecords();
    await cluster.stop();
    expect(records.filter((r) => groupAlive(r.pgid)).map((r) => r.name)).toEqual([]);
    expect(processesMentioning(dir)).toEqual([]);
    expect(await mountsUnder(dir)).toEqual([]);
    expect(await loopDevicesUnder(dir)).toEqual([]);
  });
});
