import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CSI_DRIVER_NAME } from '@longhorn-ts/api';
import { CsiCallError, CsiClient, csiDriverObject } from '@longhorn-ts/csi';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { Cluster, stopAbandonedClusters } from '../src/harness/cluster.js';
import { fuseHelpersUnder, loopDevicesUnder, mountsUnder } from '../src/harness/host-cleanup.js';
import type { KubeObject } from '../src/harness/kubectl.js';
import {
  type CsiNodeClient,
  type KubeletVolume,
  kubeletMountVolume,
  kubeletPaths,
  kubeletUnmountVolume,
} from '../src/harness/kubelet-csi.js';
import { STANDIN_FINALIZER } from '../src/harness/kubelet-standin-plan.js';
import { kubeletStandinOf, startKubeletStandin } from '../src/harness/kubelet-standin-process.js';
import {
  csiAvailable,
  LONGHORN_CSI_DRIVER,
  nodePluginSocket,
  startCsiNodePlugin,
} from '../src/harness/longhorn-csi.js';
import {
  attachByTicket,
  getVolume,
  isAttachedHealthy,
  LH,
  removeTicket,
  replicasOf,
  waitForEndpoint,
  waitForVolume,
} from '../src/harness/longhorn-volumes.js';
import { MinioServer } from '../src/harness/minio.js';
import { waitFor } from '../src/harness/wait.js';

const exec = promisify(execFile);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const skip = process.env.LONGHORN_TS_SKIP_K8S === '1' || !csiAvailable();
const NS = 'longhorn-system';

interface Pvc extends KubeObject {
  spec: { volumeName?: string };
  status?: { phase?: string };
}
interface Pv extends KubeObject {
  spec: { csi?: { volumeHandle: string; volumeAttributes?: Record<string, string>; fsType?: string } };
}
interface Pod extends KubeObject {
  spec: { nodeName?: string };
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
}
interface Node extends KubeObject {
  status?: { volumesInUse?: string[] };
}
interface StorageVa extends KubeObject {
  spec: { nodeName: string; source: { persistentVolumeName?: string } };
  status?: { attached?: boolean; attachmentMetadata?: Record<string, string> };
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CsiCallError) return `${err.codeName}: ${err.details}`;
    throw err;
  }
  return 'OK';
}

const podReady = (p: Pod) =>
  p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

const podYaml = (name: string, claim: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: default}
spec:
  containers: [{name: app, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: ${claim}}}]
`;

/** The mountinfo lines whose mount point is `path`. */
async function mountLines(path: string): Promise<string[]> {
  return (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.split(' ')[4] === path);
}

async function mountedAt(path: string): Promise<string | undefined> {
  return (await mountLines(path))[0];
}

/** `dataSource`: a claim's spec.dataSource line (restore from a VolumeSnapshot, clone a PVC). */
const MiB = 1024 * 1024;

interface ResizedPvc extends Pvc {
  status?: Pvc['status'] & { conditions?: { type: string }[]; capacity?: { storage?: string } };
}
interface SizedPv extends Pv {
  spec: Pv['spec'] & { capacity?: { storage?: string } };
}

const expansionPvcYaml = (name: string, size: string, storageClass: string) => `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: ${name}, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: ${storageClass}
  resources: {requests: {storage: ${size}}}
`;

/** Bytes of a Kubernetes quantity as the resizer writes them ("128Mi", "134217728"). */
function quantityBytes(q: string | undefined): number {
  const m = /^(\d+)(Ki|Mi|Gi|Ti)?$/.exec(q ?? '');
  if (!m) return Number.NaN;
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 }[m[2] ?? ''] ?? 1;
  return Number(m[1]) * unit;
}

/** The block device a mount point is mounted from (/proc/self/mountinfo). */
async function mountSource(target: string): Promise<string | undefined> {
  return (await mountedAt(target))?.split(' - ')[1]?.split(' ')[1];
}

async function fsBytes(path: string): Promise<number> {
  const s = await statfs(path);
  return s.blocks * s.bsize;
}

/** Whether a process holds CAP_SYS_RESOURCE (the kernel's ext4 online resize asks for it). */
function hasSysResource(pid: number): boolean {
  const eff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '0';
  return ((BigInt(`0x${eff}`) >> 24n) & 1n) === 1n;
}

const pvcYaml = (name: string, size = '64Mi', dataSource = '') => `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: ${name}, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: longhorn
  resources: {requests: {storage: ${size}}}
${dataSource ? `  dataSource: ${dataSource}\n` : ''}`;

interface ClonedVolume extends KubeObject {
  spec: { dataSource?: string };
  status?: { cloneStatus?: { sourceVolume?: string; snapshot?: string; state?: string } };
}

/** Every regular file directly under `dir` (lost+found left out) with the SHA-256 of its bytes. */
async function filePrint(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name === 'lost+found' || !e.isFile()) continue;
    out[e.name] = sha256(await readFile(join(dir, e.name)));
  }
  return out;
}

describe.skipIf(skip)('CSI on the real control plane: StorageClass, PVC, Pod, mount, snapshot', () => {
  let dir: string;
  let cluster: Cluster;
  let controller: CsiClient;
  const nodeClients = new Map<string, CsiClient>();
  const figures: string[] = [];

  const client = (node: string) => {
    let c = nodeClients.get(node);
    if (!c) {
      c = new CsiClient(`unix://${nodePluginSocket(cluster.node(node))}`);
      nodeClients.set(node, c);
    }
    return c;
  };

  beforeAll(async () => {
    await stopAbandonedClusters(tmpdir(), 'lh-e2e-csi-');
    dir = await mkdtemp(join(tmpdir(), 'lh-e2e-csi-'));
    cluster = await Cluster.start({ dir, nodes: 3, longhorn: true, timeoutMs: 180_000 });
    controller = new CsiClient(`unix://${join(dir, 'run', 'csi', 'controller.sock')}`);
  }, 240_000);

  afterAll(async () => {
    controller?.close();
    for (const c of nodeClients.values()) c.close();
    if (figures.length > 0) process.stdout.write(`[csi.test] ${figures.join('; ')}\n`);
    await cluster?.stop();
  }, 60_000);

  /** The stand-in's log lines (pino JSON) of a node. */
  const standinLog = (node: string): Record<string, unknown>[] =>
    readFileSync(cluster.node(node).logFile('kubelet-standin'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{"level"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  /** How long the stand-in's stage + publish of a volume took (its last 'volume mounted' line). */
  const standinMountMs = (node: string, pvName: string): number =>
    Number(standinLog(node).findLast((l) => l.msg === 'volume mounted' && l.volume === pvName)?.ms);

  const dumpLogsOnFailure = () =>
    onTestFailed(async () => {
      process.stderr.write(`${await cluster.logTails(40)}\n`);
    });

  it('installs the CSIDriver as Longhorn ships it, StorageClass longhorn, the snapshot classes, a CSINode per node', async () => {
    dumpLogsOnFailure();
    expect(LONGHORN_CSI_DRIVER).toEqual(csiDriverObject());
    const driver = await cluster.kubectl.get<KubeObject & { spec: object }>('csidriver', CSI_DRIVER_NAME);
    expect(driver.spec).toMatchObject(csiDriverObject().spec);
    const sc = await cluster.kubectl.get<KubeObject & { provisioner: string }>('storageclass', 'longhorn');
    expect(sc.provisioner).toBe(CSI_DRIVER_NAME);
    const classes = await cluster.kubectl.list<KubeObject & { parameters: { type: string } }>(
      'volumesnapshotclass',
    );
    expect(classes.map((c) => c.parameters.type).sort()).toEqual(['bak', 'snap']);
    const csiNodes = await cluster.kubectl.list<KubeObject>('csinode');
    expect(csiNodes.map((n) => n.metadata.name).sort()).toEqual(['node-1', 'node-2', 'node-3']);
    const info = await client('node-2').call('nodeGetInfo', {});
    expect(info.nodeId).toBe('node-2');
    expect(info.accessibleTopology.segments['topology.kubernetes.io/zone']).toBe('zone-b');
  });

  it('PVC → Bound → Pod → the kubelet stand-in stages and publishes → a file reads back; restarts; VolumeSnapshot readyToUse; delete leaves nothing', async () => {
    dumpLogsOnFailure();
    const k = cluster.kubectl;
    // The attach-detach controller creates VolumeAttachments only for nodes that ask for it.
    for (const n of await k.list<Node>('nodes'))
      expect(
        (n.metadata.annotations as Record<string, string>)[
          'volumes.kubernetes.io/controller-managed-attach-detach'
        ],
      ).toBe('true');
    let t0 = Date.now();
    await k.apply(pvcYaml('data'));
    const pvc = await k.waitForObject<Pvc>('pvc', 'data', (p) => p.status?.phase === 'Bound', {
      namespace: 'default',
      timeoutMs: 90_000,
    });
    figures.push(`PVC created → Bound ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const pvName = pvc.spec.volumeName!;
    const pv = await k.get<Pv>('pv', pvName);
    expect(pv.spec.csi?.volumeHandle).toBe(pvName);
    const volume = await k.get<KubeObject & { spec: { numberOfReplicas: number; size: string } }>(
      LH.volumes,
      pvName,
      'longhorn-system',
    );
    expect(volume.spec.numberOfReplicas).toBe(3);
    expect(volume.spec.size).toBe(String(64 * 1024 * 1024));

    // A plain Pod: nothing calls CSI by hand; the stand-in on the pod's node mounts the volume
    // and the pod turns Ready only after that.
    t0 = Date.now();
    await k.apply(podYaml('app', 'data'));
    const pod = await k.waitForObject<Pod>('pod', 'app', podReady, {
      namespace: 'default',
      timeoutMs: 120_000,
    });
    const mountedAfter = (Date.now() - t0) / 1000;
    const node = pod.spec.nodeName!;
    const paths = kubeletPaths(cluster.node(node).dataDir, {
      driverName: CSI_DRIVER_NAME,
      pvName,
      volumeHandle: pvName,
      podUid: String(pod.metadata.uid),
      accessType: 'mount',
    });
    expect(await mountedAt(paths.stagingTargetPath)).toMatch(/ - ext4 \/dev\/loop\d+ /);
    expect(await mountedAt(paths.targetPath)).toMatch(/ - ext4 \/dev\/loop\d+ /);
    const standinMs = standinMountMs(node, pvName);
    figures.push(
      `Pod created → file system mounted and pod Ready ${mountedAfter.toFixed(1)} s (the stand-in's stage + publish ${(standinMs / 1000).toFixed(1)} s)`,
    );
    expect(pod.metadata.finalizers).toContain(STANDIN_FINALIZER);
    const va = (await k.list<StorageVa>('volumeattachments.storage.k8s.io')).find(
      (v) => v.spec.source.persistentVolumeName === pvName,
    );
    expect(va).toMatchObject({ spec: { nodeName: node }, status: { attached: true } });
    const nodeObj = await k.get<Node>('node', node);
    expect(nodeObj.status?.volumesInUse).toEqual([`kubernetes.io/csi/${CSI_DRIVER_NAME}^${pvName}`]);

    const text = `written through the mount of ${pvName} at ${new Date().toISOString()}\n`;
    await writeFile(join(paths.targetPath, 'hello.txt'), text);
    expect(await readFile(join(paths.targetPath, 'hello.txt'), 'utf8')).toBe(text);
    const stats = await client(node).call('nodeGetVolumeStats', {
      volumeId: pvName,
      volumePath: paths.targetPath,
    });
    expect(stats.usage.find((u: { unit: string }) => u.unit === 'BYTES').total).toBeGreaterThan(
      50 * 1024 * 1024,
    );

    // The node plugin restarted in between: a new process finds what the old one staged.
    const plugin = cluster.node(node).processes.find((p) => p.name === `${node}/csi-plugin` && p.running);
    await plugin!.kill();
    client(node).close();
    nodeClients.delete(node);
    await startCsiNodePlugin(cluster.node(node), k);
    expect(await readFile(join(paths.targetPath, 'hello.txt'), 'utf8')).toBe(text);
    // The stand-in restarted: it finds the volume mounted and leaves it (no second mount).
    await kubeletStandinOf(cluster.node(node))!.kill();
    await startKubeletStandin(cluster.node(node));
    await waitFor(
      'the restarted stand-in to take the mounted volume over',
      () =>
        standinLog(node).some((l) => l.msg === 'volume still mounted, taken over' && l.pod === 'default/app'),
      { timeoutMs: 30_000 },
    );
    expect((await mountLines(paths.targetPath)).length).toBe(1);
    expect(await readFile(join(paths.targetPath, 'hello.txt'), 'utf8')).toBe(text);

    await k.apply(`apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata: {name: snap, namespace: default}
spec:
  volumeSnapshotClassName: longhorn-snapshot-vsc
  source: {persistentVolumeClaimName: data}
---
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata: {name: backup, namespace: default}
spec:
  volumeSnapshotClassName: longhorn-backup-vsc
  source: {persistentVolumeClaimName: data}
`);
    await k.waitForObject<KubeObject & { status?: { readyToUse?: boolean } }>(
      'volumesnapshot',
      'snap',
      (s) => s.status?.readyToUse === true,
      { namespace: 'default', timeoutMs: 90_000 },
    );
    // Both snapshots were asked for at once: the second one on a volume may first be ABORTED
    // (one operation per volume at a time; the sidecar retries), then gets its real answer: a
    // backup when the cluster has a backup target, else FAILED_PRECONDITION saying how to set one.
    const target = await k.tryGet<KubeObject & { spec?: { backupTargetURL?: string } }>(
      'backuptargets.longhorn.io',
      'default',
      NS,
    );
    const backup = await k.waitForObject<
      KubeObject & { status?: { readyToUse?: boolean; error?: { message?: string } } }
    >(
      'volumesnapshot',
      'backup',
      (s) => s.status?.readyToUse === true || /FailedPrecondition/.test(s.status?.error?.message ?? ''),
      { namespace: 'default', timeoutMs: 180_000 },
    );
    if (target?.spec?.backupTargetURL) expect(backup.status?.readyToUse).toBe(true);
    else
      expect(backup.status?.error?.message).toMatch(
        /FailedPrecondition.*backup target "default" has no URL\. Set one, e\.g\. kubectl -n longhorn-system patch backuptarget default/,
      );
    await k.run(['delete', 'volumesnapshot', '--all', '-n', 'default', '--wait=true', '--timeout=120s']);

    // The pod deleted while its node's stand-in is down: the pod object stays (finalizer) and
    // the volume stays mounted and attached; the stand-in back, it unmounts, then the pod goes.
    await kubeletStandinOf(cluster.node(node))!.kill();
    const kwokLog = join(dir, 'logs', 'kwok.log');
    const kwokOffset = statSync(kwokLog).size;
    await k.run(['delete', 'pod', 'app', '-n', 'default', '--wait=false']);
    await waitFor('kwok to delete the pod (its pod-delete stage)', () =>
      readFileSync(kwokLog, 'utf8')
        .slice(kwokOffset)
        .split('\n')
        .some((l) => l.includes('"msg":"Delete pod"') && l.includes('"pod":"default/app"')),
    );
    expect(await k.tryGet('pod', 'app', 'default')).toBeDefined();
    expect(await mountedAt(paths.targetPath)).toBeDefined();
    await startKubeletStandin(cluster.node(node));
    await k.waitForCondition('pod/app', 'delete', { namespace: 'default', timeoutMs: 60_000 });
    expect(await mountedAt(paths.targetPath)).toBeUndefined();
    expect(await mountedAt(paths.stagingTargetPath)).toBeUndefined();
    await waitFor(
      'the storage VolumeAttachment to go',
      async () =>
        (await k.list<StorageVa>('volumeattachments.storage.k8s.io')).every(
          (v) => v.spec.source.persistentVolumeName !== pvName,
        ),
      { timeoutMs: 120_000, maxIntervalMs: 500 },
    );
    expect((await k.get<Node>('node', node)).status?.volumesInUse ?? []).toEqual([]);
    await k.run(['delete', 'pvc', 'data', '-n', 'default', '--wait=true', '--timeout=120s']);
    await waitFor(
      'the PV and the Longhorn Volume to go',
      async () => {
        const [pvGone, volGone] = await Promise.all([
          k.tryGet('pv', pvName).then((x) => x === undefined),
          k.tryGet(LH.volumes, pvName, 'longhorn-system').then((x) => x === undefined),
        ]);
        return pvGone && volGone;
      },
      { timeoutMs: 120_000, maxIntervalMs: 500 },
    );
    const leftovers = await k.list<KubeObject & { spec: { volume?: string } }>(
      LH.snapshots,
      'longhorn-system',
    );
    expect(leftovers.filter((s) => s.spec.volume === pvName).map((s) => s.metadata.name)).toEqual([]);
    expect(await mountsUnder(dir)).toEqual([]);
    expect(await loopDevicesUnder(dir)).toEqual([]);
    expect(await fuseHelpersUnder(dir)).toEqual([]);
    for (const n of cluster.nodes) {
      expect(readdirSync(join(n.dataDir, 'replicas')).filter((r) => r.includes(pvName))).toEqual([]);
      // kubelet's per-pod directories and the stand-in's mount records are gone too.
      for (const sub of ['pods', 'kubelet-standin/pods']) {
        const root = join(n.dataDir, sub);
        expect(existsSync(root) ? readdirSync(root, { recursive: true }) : []).toEqual([]);
      }
    }
  }, 600_000);

  it("a replica's node loses its data plane while a file is written through the pod's mount: the write completes, the bytes are intact, fsck clean, healthy again once the node is back", async () => {
    dumpLogsOnFailure();
    const k = cluster.kubectl;
    const work = await mkdtemp(join(tmpdir(), 'lh-e2e-csi-kill-'));
    let writer: ChildProcess | undefined;
    let ticket: string | undefined;
    let pvName = '';
    try {
      await k.apply(pvcYaml('survivor', '256Mi'));
      pvName = (
        await k.waitForObject<Pvc>('pvc', 'survivor', (p) => p.status?.phase === 'Bound', {
          namespace: 'default',
          timeoutMs: 90_000,
        })
      ).spec.volumeName!;
      await k.apply(podYaml('writer', 'survivor'));
      const pod = await k.waitForObject<Pod>('pod', 'writer', podReady, {
        namespace: 'default',
        timeoutMs: 120_000,
      });
      const engineNode = pod.spec.nodeName!;
      await waitForVolume(k, pvName, 'attached and healthy', isAttachedHealthy(engineNode), 120_000);
      const victim = (await replicasOf(k, pvName))
        .map((r) => r.spec.nodeID)
        .find((n) => n && n !== engineNode)!;
      expect(victim).toBeDefined();
      const { targetPath } = kubeletPaths(cluster.node(engineNode).dataDir, {
        driverName: CSI_DRIVER_NAME,
        pvName,
        volumeHandle: pvName,
        podUid: String(pod.metadata.uid),
        accessType: 'mount',
      });

      // 96 MiB of random bytes written with O_DIRECT (each write goes down to the engine, not
      // into the page cache) and fsync'd at the end.
      const data = randomBytes(96 << 20);
      const source = join(work, 'source.bin');
      await writeFile(source, data);
      const file = join(targetPath, 'big.bin');
      writer = spawn(
        'dd',
        [`if=${source}`, `of=${file}`, 'bs=1M', 'oflag=direct', 'conv=fsync', 'status=none'],
        {
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let ddErr = '';
      writer.stderr!.on('data', (b: Buffer) => {
        ddErr += b.toString();
      });
      const ddExit = new Promise<number | null>((done) => writer!.once('exit', (code) => done(code)));
      await waitFor('dd to have written 16 MiB', () => existsSync(file) && statSync(file).size >= 16 << 20, {
        timeoutMs: 60_000,
        maxIntervalMs: 50,
      });
      expect(writer.exitCode).toBeNull(); // still writing
      const writtenAtKill = statSync(file).size;
      await cluster.longhorn.node(victim).killInstanceManager();
      const code = await ddExit;
      expect(`dd exit ${code} ${ddErr}`).toBe('dd exit 0 ');
      writer = undefined;
      figures.push(
        `node kill: ${victim}'s instance manager and replicas SIGKILLed after ${writtenAtKill >> 20} MiB of 96 MiB; the write completed`,
      );
      // Two replicas left (no fourth node to rebuild on): degraded, attached, still serving.
      await waitForVolume(k, pvName, 'degraded', (v) => v.status?.robustness === 'degraded', 30_000);
      // The bytes as the volume holds them (O_DIRECT read: not the page cache).
      const { stdout: readBack } = await exec('sh', [
        '-c',
        `dd if='${file}' iflag=direct bs=1M status=none | sha256sum`,
      ]);
      expect(readBack.split(' ')[0]).toBe(sha256(data));

      // The node back: its instance manager restarted, the replica rebuilt, healthy again.
      const t0 = Date.now();
      await cluster.longhorn.node(victim).startInstanceManager();
      await waitForVolume(k, pvName, 'healthy again', isAttachedHealthy(engineNode), 180_000);
      figures.push(`node back → volume healthy ${((Date.now() - t0) / 1000).toFixed(1)} s`);

      // Unmounted (the pod deleted), the file system checked and the file read from a copy of
      // the volume's bytes, taken over NBD with the volume attached by a Longhorn API ticket.
      await k.run(['delete', 'pod', 'writer', '-n', 'default', '--wait=true', '--timeout=120s']);
      expect(await mountedAt(targetPath)).toBeUndefined();
      await waitFor(
        'the storage VolumeAttachment to go',
        async () =>
          (await k.list<StorageVa>('volumeattachments.storage.k8s.io')).every(
            (v) => v.spec.source.persistentVolumeName !== pvName,
          ),
        { timeoutMs: 120_000, maxIntervalMs: 500 },
      );
      ticket = await attachByTicket(k, pvName, engineNode);
      await waitForVolume(k, pvName, 'attached by the ticket', isAttachedHealthy(engineNode), 120_000);
      const image = join(work, 'volume.img');
      await exec('nbdcopy', [await waitForEndpoint(k, pvName), image]);
      const fsck = await exec('e2fsck', ['-n', '-f', image]).catch(
        (err: { stdout?: string; code?: number }) => err,
      );
      expect(fsck.stdout).toMatch(/: \d+\/\d+ files .* \d+\/\d+ blocks/);
      expect((fsck as { code?: number }).code ?? 0).toBe(0);
      await exec('debugfs', ['-R', `dump /big.bin ${join(work, 'big.bin')}`, image]);
      expect(sha256(await readFile(join(work, 'big.bin')))).toBe(sha256(data));
    } finally {
      writer?.kill('SIGKILL');
      if (ticket) await removeTicket(k, pvName, ticket).catch(() => undefined);
      await k.run([
        'delete',
        'pod',
        'writer',
        '-n',
        'default',
        '--ignore-not-found',
        '--wait=true',
        '--timeout=120s',
      ]);
      await k.run([
        'delete',
        'pvc',
        'survivor',
        '-n',
        'default',
        '--ignore-not-found',
        '--wait=true',
        '--timeout=120s',
      ]);
      await rm(work, { recursive: true, force: true });
    }
    await waitFor('the Longhorn Volume to go', async () => (await getVolume(k, pvName)) === undefined, {
      timeoutMs: 120_000,
    });
  }, 600_000);

  it('a pod the stand-in cannot serve: FailedMount names the reason, the pod stays Pending, deleting it works', async () => {
    dumpLogsOnFailure();
    const k = cluster.kubectl;
    await k.apply(`apiVersion: v1
kind: Pod
metadata: {name: inline, namespace: default}
spec:
  containers: [{name: app, image: busybox, volumeMounts: [{name: v, mountPath: /v}]}]
  volumes: [{name: v, csi: {driver: ${CSI_DRIVER_NAME}}}]
`);
    const event = await waitFor(
      'a FailedMount event on pod inline',
      async () =>
        (
          await k.list<KubeObject & { reason: string; message: string; involvedObject: { name: string } }>(
            'events',
            'default',
          )
        ).find((e) => e.involvedObject.name === 'inline' && e.reason === 'FailedMount'),
      { timeoutMs: 60_000 },
    );
    expect(event.message).toBe(
      `MountVolume.SetUp failed for volume "v" : CSI inline (ephemeral) volumes are not supported by ${CSI_DRIVER_NAME}: its CSIDriver lists volumeLifecycleModes [Persistent] only; use a PVC`,
    );
    const pod = await k.get<Pod>('pod', 'inline', 'default');
    expect(pod.status?.phase).toBe('Pending');
    await k.run(['delete', 'pod', 'inline', '-n', 'default', '--wait=true', '--timeout=60s']);
    expect(await k.tryGet('pod', 'inline', 'default')).toBeUndefined();
  });

  it('answers bad input with the right code and a message that names the problem', async () => {
    dumpLogsOnFailure();
    const mount = {
      accessType: 'mount',
      mount: { fsType: 'ext4' },
      accessMode: { mode: 'SINGLE_NODE_WRITER' },
    };
    const rwx = { accessType: 'mount', mount: {}, accessMode: { mode: 'MULTI_NODE_MULTI_WRITER' } };
    expect(await refusal(controller.call('createVolume', { volumeCapabilities: [mount] }))).toBe(
      'INVALID_ARGUMENT: name is required',
    );
    expect(
      await refusal(controller.call('createVolume', { name: 'bad-caps', volumeCapabilities: [rwx] })),
    ).toMatch(
      /^INVALID_ARGUMENT: access mode MULTI_NODE_MULTI_WRITER is not supported: multi-node access \(RWX\) needs the share manager/,
    );
    expect(
      await refusal(
        controller.call('createVolume', {
          name: 'bad-params',
          volumeCapabilities: [mount],
          parameters: { replicas: '2' },
        }),
      ),
    ).toMatch(/^INVALID_ARGUMENT: unknown StorageClass parameter replicas \(known: numberOfReplicas/);
    expect(
      await refusal(
        controller.call('createVolume', {
          name: 'too-big',
          volumeCapabilities: [mount],
          capacityRange: { requiredBytes: 2 ** 52 },
        }),
      ),
    ).toMatch(/^OUT_OF_RANGE: volume size \d+ bytes is more than the largest disk can hold/);
    expect(
      await refusal(
        controller.call('controllerPublishVolume', {
          volumeId: 'no-such-volume',
          nodeId: 'node-1',
          volumeCapability: mount,
        }),
      ),
    ).toBe('NOT_FOUND: volume no-such-volume not found');
    expect(
      await refusal(controller.call('controllerPublishVolume', { volumeId: 'x', volumeCapability: mount })),
    ).toBe('INVALID_ARGUMENT: node_id is required');
    expect(await refusal(controller.call('deleteSnapshot', {}))).toBe(
      'INVALID_ARGUMENT: snapshot_id is required',
    );
    expect(
      await refusal(
        controller.call('createSnapshot', {
          name: 's',
          sourceVolumeId: 'no-such-volume',
          parameters: { type: 'snap' },
        }),
      ),
    ).toBe('NOT_FOUND: volume no-such-volume not found');
    expect(
      await refusal(
        controller.call('createSnapshot', { name: 's', sourceVolumeId: 'v', parameters: { type: 'bak' } }),
      ),
    ).toBe('NOT_FOUND: volume v not found');
    expect(
      await refusal(
        controller.call('createSnapshot', { name: 's', sourceVolumeId: 'v', parameters: { type: 'backup' } }),
      ),
    ).toBe('INVALID_ARGUMENT: parameter type: "backup" is not one of snap, bak (or unset: bak)');
    expect(
      await refusal(
        client('node-1').call('nodeStageVolume', {
          volumeId: 'no-such-volume',
          stagingTargetPath: join(dir, 'x'),
          volumeCapability: mount,
        }),
      ),
    ).toBe('NOT_FOUND: volume no-such-volume not found');
    expect(
      await refusal(client('node-1').call('nodeStageVolume', { volumeId: 'v', volumeCapability: mount })),
    ).toBe('INVALID_ARGUMENT: staging_target_path is required');
    expect(await refusal(client('node-1').call('nodeGetVolumeStats', { volumeId: 'v' }))).toBe(
      'INVALID_ARGUMENT: volume_path is required',
    );
  });

  it('honours accessibility requirements: replicas only in the requisite zones, which come back as the accessible topology', async () => {
    dumpLogsOnFailure();
    const k = cluster.kubectl;
    const mount = {
      accessType: 'mount',
      mount: { fsType: 'ext4' },
      accessMode: { mode: 'SINGLE_NODE_WRITER' },
    };
    const zoneSegment = (zone: string) => ({ segments: { 'topology.kubernetes.io/zone': zone } });
    const request = {
      name: 'topo-bc',
      volumeCapabilities: [mount],
      capacityRange: { requiredBytes: 16 * 1024 * 1024 },
      parameters: { numberOfReplicas: '2' },
      accessibilityRequirements: {
        requisite: [zoneSegment('zone-b'), zoneSegment('zone-c')],
        preferred: [zoneSegment('zone-c')],
      },
    };
    try {
      const created = await controller.call('createVolume', request);
      const zonesOf = (topology: { segments: Record<string, string> }[]) =>
        topology.map((t) => t.segments['topology.kubernetes.io/zone']).sort();
      expect(zonesOf(created.volume.accessibleTopology)).toEqual(['zone-b', 'zone-c']);
      const volume = await k.get<KubeObject & { spec: { topologyRequirement?: { zone?: string }[] } }>(
        LH.volumes,
        'topo-bc',
        'longhorn-system',
      );
      expect(volume.spec.topologyRequirement).toEqual([{ zone: 'zone-b' }, { zone: 'zone-c' }]);
      const nodes = await waitFor(
        'both replicas scheduled',
        async () => {
          const rs = await replicasOf(k, 'topo-bc');
          return rs.length === 2 && rs.every((r) => r.spec.nodeID)
            ? rs.map((r) => r.spec.nodeID).sort()
            : undefined;
        },
        { timeoutMs: 60_000, maxIntervalMs: 500 },
      );
      expect(nodes).toEqual(['node-2', 'node-3']);
      // The same request again is the same volume; another topology is ALREADY_EXISTS; a key the
      // nodes do not report is refused by name.
      const again = await controller.call('createVolume', request);
      expect(again.volume.volumeId).toBe('topo-bc');
      expect(
        await refusal(
          controller.call('createVolume', {
            ...request,
            accessibilityRequirements: { requisite: [zoneSegment('zone-a')] },
          }),
        ),
      ).toMatch(/^ALREADY_EXISTS: volume topo-bc exists with topology/);
      expect(
        await refusal(
          controller.call('createVolume', {
            ...request,
            name: 'topo-rack',
            accessibilityRequirements: { requisite: [{ segments: { 'example.com/rack': 'r1' } }] },
          }),
        ),
      ).toMatch(/^INVALID_ARGUMENT: accessibility requirement with topology key example.com\/rack/);
    } finally {
      await controller.call('deleteVolume', { volumeId: 'topo-bc' });
    }
  });
  /** A pod on `claim`, once the stand-in mounted its volume: the host path of that mount. */
  async function mountedPod(pod: string, claim: string): Promise<string> {
    const k = cluster.kubectl;
    await k.apply(podYaml(pod, claim));
    const pvc = await k.get<Pvc>('pvc', claim, 'default');
    const p = await k.waitForObject<Pod>('pod', pod, podReady, { namespace: 'default', timeoutMs: 240_000 });
    const { targetPath } = kubeletPaths(cluster.node(p.spec.nodeName!).dataDir, {
      driverName: CSI_DRIVER_NAME,
      pvName: pvc.spec.volumeName!,
      volumeHandle: pvc.spec.volumeName!,
      podUid: String(p.metadata.uid),
      accessType: 'mount',
    });
    expect(await mountedAt(targetPath)).toBeDefined();
    return targetPath;
  }

  it('restores a VolumeSnapshot and clones a PVC: exactly the snapshot’s and the source’s files', async () => {
    dumpLogsOnFailure();
    const k = cluster.kubectl;
    await k.apply(pvcYaml('src'));
    const src = await k.waitForObject<Pvc>('pvc', 'src', (p) => p.status?.phase === 'Bound', {
      namespace: 'default',
      timeoutMs: 90_000,
    });
    const srcPv = src.spec.volumeName!;
    const srcMount = await mountedPod('writer', 'src');

    // Files at the snapshot: text, 3 MiB of random bytes, 8 MiB of zeros followed by data.
    const big = randomBytes(3 * 1024 * 1024);
    await writeFile(join(srcMount, 'a.txt'), 'before the snapshot\n');
    await writeFile(join(srcMount, 'big.bin'), big);
    await writeFile(
      join(srcMount, 'sparse.bin'),
      Buffer.concat([Buffer.alloc(8 * 1024 * 1024), big.subarray(0, 4096)]),
    );
    await exec('sync', ['-f', join(srcMount, 'a.txt')]);
    const atSnapshot = await filePrint(srcMount);
    expect(Object.keys(atSnapshot).sort()).toEqual(['a.txt', 'big.bin', 'sparse.bin']);

    await k.apply(`apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata: {name: snap1, namespace: default}
spec:
  volumeSnapshotClassName: longhorn-snapshot-vsc
  source: {persistentVolumeClaimName: src}
`);
    await k.waitForObject<KubeObject & { status?: { readyToUse?: boolean } }>(
      'volumesnapshot',
      'snap1',
      (s) => s.status?.readyToUse === true,
      { namespace: 'default', timeoutMs: 120_000 },
    );

    // After the snapshot: overwrite, add, delete. The restore must show none of it.
    await writeFile(join(srcMount, 'a.txt'), 'after the snapshot, overwritten\n');
    await writeFile(join(srcMount, 'c.txt'), 'added after the snapshot\n');
    await writeFile(join(srcMount, 'big.bin'), randomBytes(3 * 1024 * 1024));
    await exec('sync', ['-f', join(srcMount, 'a.txt')]);
    const current = await filePrint(srcMount);
    expect(current['a.txt']).not.toBe(atSnapshot['a.txt']);

    let t0 = Date.now();
    await k.apply(
      pvcYaml('restored', '64Mi', '{apiGroup: snapshot.storage.k8s.io, kind: VolumeSnapshot, name: snap1}'),
    );
    await k.apply(pvcYaml('cloned', '64Mi', '{kind: PersistentVolumeClaim, name: src}'));
    const restored = await k.waitForObject<Pvc>('pvc', 'restored', (p) => p.status?.phase === 'Bound', {
      namespace: 'default',
      timeoutMs: 120_000,
    });
    const cloned = await k.waitForObject<Pvc>('pvc', 'cloned', (p) => p.status?.phase === 'Bound', {
      namespace: 'default',
      timeoutMs: 120_000,
    });
    figures.push(`both PVCs Bound ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const completed = async (pv: string) =>
      k.waitForObject<ClonedVolume>(LH.volumes, pv, (v) => v.status?.cloneStatus?.state === 'completed', {
        namespace: NS,
        timeoutMs: 240_000,
      });
    const [rv, cv] = await Promise.all([
      completed(restored.spec.volumeName!),
      completed(cloned.spec.volumeName!),
    ]);
    figures.push(`both clones completed ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const snapContent = await k.list<KubeObject & { status?: { snapshotHandle?: string } }>(
      'volumesnapshotcontent',
    );
    const handle = snapContent.find((c) => c.status?.snapshotHandle?.startsWith(`snap://${srcPv}/`))?.status
      ?.snapshotHandle;
    expect(rv.spec.dataSource).toBe(handle);
    expect(rv.status?.cloneStatus).toMatchObject({ sourceVolume: srcPv, snapshot: handle!.split('/').pop() });
    expect(cv.spec.dataSource).toBe(`vol://${srcPv}`);
    expect(cv.status?.cloneStatus).toMatchObject({
      sourceVolume: srcPv,
      snapshot: `clone-src-${cv.metadata.name}`,
    });
    // The clone tickets are gone from the source's and the new volumes' VolumeAttachments.
    await waitFor(
      'the clone tickets to be released',
      async () =>
        (
          await k.list<KubeObject & { spec: { attachmentTickets?: Record<string, { type?: string }> } }>(
            LH.attachments,
            NS,
          )
        ).every((va) =>
          Object.values(va.spec.attachmentTickets ?? {}).every((t) => t.type !== 'volume-clone-controller'),
        ),
      { timeoutMs: 60_000, maxIntervalMs: 500 },
    );

    t0 = Date.now();
    const restoredMount = await mountedPod('reader-restored', 'restored');
    const clonedMount = await mountedPod('reader-cloned', 'cloned');
    figures.push(`both pods mounted ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(await filePrint(restoredMount)).toEqual(atSnapshot);
    expect(await filePrint(clonedMount)).toEqual(current);
    expect(await readFile(join(restoredMount, 'a.txt'), 'utf8')).toBe('before the snapshot\n');
    expect(await readFile(join(clonedMount, 'c.txt'), 'utf8')).toBe('added after the snapshot\n');
    // The source kept its files.
    expect(await filePrint(srcMount)).toEqual(current);
    // The copies are independent: a write to the restored volume leaves the source alone.
    await writeFile(join(restoredMount, 'a.txt'), 'changed on the restored volume\n');
    expect(await readFile(join(srcMount, 'a.txt'), 'utf8')).toBe('after the snapshot, overwritten\n');

    // Everything goes: pods (the stand-in unmounts first), snapshot, claims.
    const pvs = [srcPv, rv.metadata.name, cv.metadata.name];
    await k.run([
      'delete',
      'pod',
      'writer',
      'reader-restored',
      'reader-cloned',
      '-n',
      'default',
      '--wait=true',
      '--timeout=180s',
    ]);
    await k.run(['delete', 'volumesnapshot', 'snap1', '-n', 'default', '--wait=true', '--timeout=120s']);
    await k.run([
      'delete',
      'pvc',
      'src',
      'restored',
      'cloned',
      '-n',
      'default',
      '--wait=true',
      '--timeout=180s',
    ]);
    await waitFor(
      'the three Longhorn Volumes to go',
      async () => (await k.list<KubeObject>(LH.volumes, NS)).every((v) => !pvs.includes(v.metadata.name)),
      { timeoutMs: 180_000, maxIntervalMs: 1000 },
    );
    // Every test before this one left nothing mounted or attached either (each checks it).
    expect(await mountsUnder(dir)).toEqual([]);
    expect(await loopDevicesUnder(dir)).toEqual([]);
  }, 900_000);

  it('refuses what cannot be cloned: unknown sources (NOT_FOUND), a smaller size (OUT_OF_RANGE); a clone whose snapshot is gone fails with an Event', async () => {
    dumpLogsOnFailure();
    const k = cluster.kubectl;
    const cap = {
      accessType: 'mount',
      mount: { fsType: 'ext4' },
      accessMode: { mode: 'SINGLE_NODE_WRITER' },
    };
    const create = (name: string, extra: object) =>
      controller.call('createVolume', { name, volumeCapabilities: [cap], ...extra });
    expect(
      await refusal(
        create('from-nowhere', { volumeContentSource: { snapshot: { snapshotId: 'snap://nope/nothing' } } }),
      ),
    ).toBe('NOT_FOUND: source snapshot snap://nope/nothing not found');
    expect(
      await refusal(create('from-nobody', { volumeContentSource: { volume: { volumeId: 'nobody' } } })),
    ).toBe('NOT_FOUND: source volume "nobody" not found');
    const base = await create('clone-base', { capacityRange: { requiredBytes: 64 * 1024 * 1024 } });
    expect(
      await refusal(
        create('too-small', {
          capacityRange: { requiredBytes: 32 * 1024 * 1024 },
          volumeContentSource: { volume: { volumeId: base.volume.volumeId } },
        }),
      ),
    ).toBe(
      "OUT_OF_RANGE: requested 33554432 bytes is less than the source's 67108864 bytes: a volume made from it must hold it",
    );
    // Cloned with no size asked: the source's size, the content source in the answer, and held
    // for the attacher until the copy is complete.
    const copy = await create('clone-copy', {
      volumeContentSource: { volume: { volumeId: base.volume.volumeId } },
    });
    expect(Number(copy.volume.capacityBytes)).toBe(64 * 1024 * 1024);
    expect(copy.volume.contentSource).toMatchObject({ volume: { volumeId: base.volume.volumeId } });
    const v = await k.get<ClonedVolume>(LH.volumes, copy.volume.volumeId, NS);
    expect(v.spec.dataSource).toBe(`vol://${base.volume.volumeId}`);

    // A Volume made from a snapshot its source does not have: cloneStatus failed and an Event.
    await k.apply(`apiVersion: longhorn.io/v1beta2
kind: Volume
metadata: {name: lost-source, namespace: ${NS}}
spec: {size: "67108864", numberOfReplicas: 1, dataSource: "snap://${base.volume.volumeId}/no-such-snapshot"}
`);
    await k.waitForObject<ClonedVolume>(
      LH.volumes,
      'lost-source',
      (x) => x.status?.cloneStatus?.state === 'failed',
      {
        namespace: NS,
        timeoutMs: 60_000,
      },
    );
    const events = await waitFor(
      'the CloneFailed event',
      async () => {
        const list = await k.list<
          KubeObject & { reason?: string; message?: string; involvedObject?: { name?: string } }
        >('events', NS);
        const e = list.filter((x) => x.reason === 'CloneFailed' && x.involvedObject?.name === 'lost-source');
        return e.length > 0 ? e : undefined;
      },
      { timeoutMs: 30_000, maxIntervalMs: 500 },
    );
    expect(events[0]!.message).toBe(`snapshot no-such-snapshot of volume ${base.volume.volumeId} not found`);
    // A failed clone is never published.
    expect(
      await refusal(
        controller.call('controllerPublishVolume', {
          volumeId: 'lost-source',
          nodeId: 'node-1',
          volumeCapability: cap,
        }),
      ),
    ).toMatch(/^FAILED_PRECONDITION: volume lost-source could not be cloned from snap:\/\//);
    await k.run(['delete', LH.volumes, 'lost-source', '-n', NS, '--wait=true', '--timeout=120s']);
    for (const id of [copy.volume.volumeId, base.volume.volumeId])
      await controller.call('deleteVolume', { volumeId: id });
  }, 300_000);
  /**
   * Online expansion: a PVC whose file system is mounted is resized by patching its request; the
   * real external-resizer calls ControllerExpandVolume (the attached engine grows), then
   * NodeExpandVolume is called as kubelet calls it. No Pod (the stand-in would mount it too):
   * the volume is published through the CSI controller and mounted by the kubelet helpers for a
   * made-up pod uid.
   */
  async function resizeMounted(o: {
    claim: string;
    storageClass: string;
    from: string;
    to: string;
    fsType: 'ext4' | 'xfs';
    node: string;
    oldMiB: number;
    newMiB: number;
    /** Restart the node plugin between the controller's and the node's expansion. */
    restartPlugin?: boolean;
  }): Promise<void> {
    const k = cluster.kubectl;
    const fromBytes = quantityBytes(o.from);
    const toBytes = quantityBytes(o.to);
    await k.apply(expansionPvcYaml(o.claim, o.from, o.storageClass));
    const pvc = await k.waitForObject<ResizedPvc>('pvc', o.claim, (p) => p.status?.phase === 'Bound', {
      namespace: 'default',
      timeoutMs: 90_000,
    });
    const pvName = pvc.spec.volumeName!;
    const pv = await k.get<Pv>('pv', pvName);
    const volumeCapability = {
      accessType: 'mount',
      mount: { fsType: o.fsType },
      accessMode: { mode: 'SINGLE_NODE_WRITER' },
    };
    const kubeletDir = cluster.node(o.node).dataDir;
    const nodeClient = () => client(o.node) as unknown as CsiNodeClient;
    const vol: KubeletVolume = {
      driverName: CSI_DRIVER_NAME,
      pvName,
      volumeHandle: pvName,
      podUid: randomUUID(),
      accessType: 'mount',
      fsType: o.fsType,
      volumeContext: pv.spec.csi?.volumeAttributes ?? {},
    };
    let published = false;
    let mountedOnce = false;
    try {
      const pub = await controller.call('controllerPublishVolume', {
        volumeId: pvName,
        nodeId: o.node,
        volumeCapability,
      });
      published = true;
      vol.publishContext = pub.publishContext ?? {};
      const mounted = await kubeletMountVolume(nodeClient(), kubeletDir, vol);
      mountedOnce = true;
      const device = await mountSource(mounted.stagingTargetPath);
      expect(device).toMatch(/^\/dev\/loop\d+$/);
      const old = randomBytes(o.oldMiB * MiB);
      await writeFile(join(mounted.targetPath, 'old.bin'), old);
      const before = await fsBytes(mounted.targetPath);
      expect(before).toBeLessThanOrEqual(fromBytes);

      let t0 = Date.now();
      await k.run([
        'patch',
        'pvc',
        o.claim,
        '-n',
        'default',
        '--type=merge',
        '-p',
        JSON.stringify({ spec: { resources: { requests: { storage: o.to } } } }),
      ]);
      // The resizer's ControllerExpandVolume answers once the engine serves the size; then the
      // PV has it and the claim waits for the node (nodeExpansionRequired).
      await k.waitForObject<SizedPv>(
        'pv',
        pvName,
        (p) => quantityBytes(p.spec.capacity?.storage) === toBytes,
        {
          timeoutMs: 120_000,
        },
      );
      const claim = await k.waitForObject<ResizedPvc>(
        'pvc',
        o.claim,
        (p) => (p.status?.conditions ?? []).some((c) => c.type === 'FileSystemResizePending'),
        { namespace: 'default', timeoutMs: 60_000 },
      );
      expect(quantityBytes(claim.status?.capacity?.storage)).toBe(fromBytes);
      figures.push(
        `${o.fsType} ${o.from}→${o.to}: PVC patched → engine and PV grown ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      );
      const volume = await k.get<KubeObject & { spec: { size: string } }>(
        LH.volumes,
        pvName,
        'longhorn-system',
      );
      expect(volume.spec.size).toBe(String(toBytes));
      const engines = await k.list<
        KubeObject & { spec: { volumeName: string }; status?: { currentSize?: string } }
      >(LH.engines, 'longhorn-system');
      expect(engines.filter((e) => e.spec.volumeName === pvName).map((e) => e.status?.currentSize)).toEqual([
        String(toBytes),
      ]);
      // Nothing was unmounted on the way.
      expect(await mountSource(mounted.stagingTargetPath)).toBe(device);

      const expandRequest = {
        volumeId: pvName,
        volumePath: mounted.targetPath,
        stagingTargetPath: mounted.stagingTargetPath,
        capacityRange: { requiredBytes: toBytes },
        volumeCapability,
      };
      let plugin = cluster.node(o.node).processes.find((p) => p.record().name === `${o.node}/csi-plugin`)!;
      if (o.restartPlugin) {
        // A new plugin process finds the helper the old one started (pid file) and grows it.
        await plugin.kill();
        client(o.node).close();
        nodeClients.delete(o.node);
        plugin = await startCsiNodePlugin(cluster.node(o.node), k);
      }
      t0 = Date.now();
      const online = o.fsType === 'xfs' || hasSysResource(plugin.record().pid);
      if (!online) {
        // This host's node plugin lacks CAP_SYS_RESOURCE, which the kernel's ext4 online resize
        // asks for: the device grows under the mount, the file system at the next stage.
        expect(await refusal(client(o.node).call('nodeExpandVolume', expandRequest))).toMatch(
          /^FAILED_PRECONDITION: growing the mounted ext4 file system on \/dev\/loop\d+ needs CAP_SYS_RESOURCE, which the node plugin lacks; the device has grown/,
        );
        const deviceBytes = Number(readFileSync(`/sys/block/${device!.slice(5)}/size`, 'utf8')) * 512;
        expect(deviceBytes).toBe(toBytes);
        expect(await mountSource(mounted.stagingTargetPath)).toBe(device);
        expect(await fsBytes(mounted.targetPath)).toBe(before);
        expect(sha256(await readFile(join(mounted.targetPath, 'old.bin')))).toBe(sha256(old));
        await kubeletUnmountVolume(nodeClient(), kubeletDir, vol);
        await kubeletMountVolume(nodeClient(), kubeletDir, vol);
      }
      const rsp = await client(o.node).call('nodeExpandVolume', expandRequest);
      expect(Number(rsp.capacityBytes)).toBe(toBytes);
      if (online) expect(await mountSource(mounted.stagingTargetPath)).toBe(device);
      // Idempotent: kubelet may call it again.
      expect(Number((await client(o.node).call('nodeExpandVolume', expandRequest)).capacityBytes)).toBe(
        toBytes,
      );
      figures.push(
        `${o.fsType} NodeExpandVolume (${online ? 'online' : 'device online, fs at restage'}) ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      );
      const after = await fsBytes(mounted.targetPath);
      expect(after).toBeGreaterThan(before + (toBytes - fromBytes) * 0.9);
      expect(after).toBeLessThanOrEqual(toBytes);
      const stats = await client(o.node).call('nodeGetVolumeStats', {
        volumeId: pvName,
        volumePath: mounted.targetPath,
      });
      expect(Number(stats.usage.find((u: { unit: string }) => u.unit === 'BYTES').total)).toBe(after);
      expect(sha256(await readFile(join(mounted.targetPath, 'old.bin')))).toBe(sha256(old));
      // More than the old size held, so it lands past the old end.
      expect(o.oldMiB + o.newMiB).toBeGreaterThan(fromBytes / MiB);
      const fresh = randomBytes(o.newMiB * MiB);
      await writeFile(join(mounted.targetPath, 'new.bin'), fresh);
      execFileSync('sync');
      await writeFile('/proc/sys/vm/drop_caches', '3');
      expect(sha256(await readFile(join(mounted.targetPath, 'new.bin')))).toBe(sha256(fresh));
      expect(sha256(await readFile(join(mounted.targetPath, 'old.bin')))).toBe(sha256(old));
    } finally {
      if (mountedOnce) await kubeletUnmountVolume(nodeClient(), kubeletDir, vol).catch(() => undefined);
      if (published)
        await controller
          .call('controllerUnpublishVolume', { volumeId: pvName, nodeId: o.node })
          .catch(() => undefined);
      await k.run(['delete', 'pvc', o.claim, '-n', 'default', '--wait=true', '--timeout=120s']);
      await waitFor(
        `the PV and the Longhorn Volume of ${o.claim} to go`,
        async () => {
          const [pvGone, volGone] = await Promise.all([
            k.tryGet('pv', pvName).then((x) => x === undefined),
            k.tryGet(LH.volumes, pvName, 'longhorn-system').then((x) => x === undefined),
          ]);
          return pvGone && volGone;
        },
        { timeoutMs: 120_000, maxIntervalMs: 500 },
      );
    }
    expect(await mountsUnder(dir)).toEqual([]);
    expect(await loopDevicesUnder(dir)).toEqual([]);
    expect(await fuseHelpersUnder(dir)).toEqual([]);
  }

  it('ext4 64Mi → 128Mi while mounted: the engine and the device grow online (the node plugin restarted in between); the file system online with CAP_SYS_RESOURCE, else at the next stage; the file is intact; data past the old end reads back; nothing left behind', async () => {
    dumpLogsOnFailure();
    await resizeMounted({
      claim: 'grow-ext4',
      storageClass: 'longhorn',
      from: '64Mi',
      to: '128Mi',
      fsType: 'ext4',
      node: 'node-1',
      oldMiB: 8,
      newMiB: 80,
      restartPlugin: true,
    });
  }, 600_000);

  it('xfs 320Mi → 640Mi while mounted grows online without an unmount: statfs grows, the file is intact, data past the old end reads back', async () => {
    dumpLogsOnFailure();
    await cluster.kubectl.apply(`apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: longhorn-xfs}
provisioner: ${CSI_DRIVER_NAME}
allowVolumeExpansion: true
reclaimPolicy: Delete
volumeBindingMode: Immediate
parameters: {numberOfReplicas: "3", fsType: xfs}
`);
    await resizeMounted({
      claim: 'grow-xfs',
      storageClass: 'longhorn-xfs',
      from: '320Mi',
      to: '640Mi',
      fsType: 'xfs',
      node: 'node-3',
      oldMiB: 16,
      newMiB: 320,
    });
  }, 600_000);

  it('a Block PVC 64Mi → 128Mi while published: NodeExpandVolume grows the device only; bytes written near the old end stay, bytes past it read back', async () => {
    dumpLogsOnFailure();
    const k = cluster.kubectl;
    const node = 'node-2';
    await k.apply(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: grow-block, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
  volumeMode: Block
  storageClassName: longhorn
  resources: {requests: {storage: 64Mi}}
`);
    const pvc = await k.waitForObject<ResizedPvc>('pvc', 'grow-block', (p) => p.status?.phase === 'Bound', {
      namespace: 'default',
      timeoutMs: 90_000,
    });
    const pvName = pvc.spec.volumeName!;
    const pv = await k.get<Pv>('pv', pvName);
    const volumeCapability = { accessType: 'block', block: {}, accessMode: { mode: 'SINGLE_NODE_WRITER' } };
    const kubeletDir = cluster.node(node).dataDir;
    const nodeClient = () => client(node) as unknown as CsiNodeClient;
    const vol: KubeletVolume = {
      driverName: CSI_DRIVER_NAME,
      pvName,
      volumeHandle: pvName,
      podUid: randomUUID(),
      accessType: 'block',
      volumeContext: pv.spec.csi?.volumeAttributes ?? {},
    };
    let published = false;
    let mountedOnce = false;
    try {
      const pub = await controller.call('controllerPublishVolume', {
        volumeId: pvName,
        nodeId: node,
        volumeCapability,
      });
      published = true;
      vol.publishContext = pub.publishContext ?? {};
      const mounted = await kubeletMountVolume(nodeClient(), kubeletDir, vol);
      mountedOnce = true;
      const target = mounted.targetPath;
      const sizeOf = () =>
        Number(execFileSync('blockdev', ['--getsize64', target], { encoding: 'utf8' }).trim());
      expect(sizeOf()).toBe(64 * MiB);
      const tail = randomBytes(MiB);
      execFileSync('dd', [`of=${target}`, 'bs=1M', `seek=63`, 'oflag=direct', 'conv=fsync', 'status=none'], {
        input: tail,
      });
      await k.run([
        'patch',
        'pvc',
        'grow-block',
        '-n',
        'default',
        '--type=merge',
        '-p',
        JSON.stringify({ spec: { resources: { requests: { storage: '128Mi' } } } }),
      ]);
      await k.waitForObject<SizedPv>(
        'pv',
        pvName,
        (p) => quantityBytes(p.spec.capacity?.storage) === 128 * MiB,
        {
          timeoutMs: 120_000,
        },
      );
      expect(sizeOf()).toBe(64 * MiB); // the node has not been asked yet
      const request = {
        volumeId: pvName,
        volumePath: target,
        stagingTargetPath: mounted.stagingTargetPath,
        capacityRange: { requiredBytes: 128 * MiB },
        volumeCapability,
      };
      expect(Number((await client(node).call('nodeExpandVolume', request)).capacityBytes)).toBe(128 * MiB);
      expect(Number((await client(node).call('nodeExpandVolume', request)).capacityBytes)).toBe(128 * MiB);
      expect(sizeOf()).toBe(128 * MiB);
      const past = randomBytes(MiB);
      execFileSync('dd', [`of=${target}`, 'bs=1M', 'seek=127', 'oflag=direct', 'conv=fsync', 'status=none'], {
        input: past,
      });
      const read = (skipMiB: number) =>
        execFileSync('dd', [
          `if=${target}`,
          'bs=1M',
          `skip=${skipMiB}`,
          'count=1',
          'iflag=direct',
          'status=none',
        ]);
      expect(sha256(read(63))).toBe(sha256(tail));
      expect(sha256(read(127))).toBe(sha256(past));
    } finally {
      if (mountedOnce) await kubeletUnmountVolume(nodeClient(), kubeletDir, vol).catch(() => undefined);
      if (published)
        await controller
          .call('controllerUnpublishVolume', { volumeId: pvName, nodeId: node })
          .catch(() => undefined);
      await k.run(['delete', 'pvc', 'grow-block', '-n', 'default', '--wait=true', '--timeout=120s']);
      await waitFor(
        'the PV and the Longhorn Volume of grow-block to go',
        async () => {
          const [pvGone, volGone] = await Promise.all([
            k.tryGet('pv', pvName).then((x) => x === undefined),
            k.tryGet(LH.volumes, pvName, 'longhorn-system').then((x) => x === undefined),
          ]);
          return pvGone && volGone;
        },
        { timeoutMs: 120_000, maxIntervalMs: 500 },
      );
    }
    expect(await mountsUnder(dir)).toEqual([]);
    expect(await loopDevicesUnder(dir)).toEqual([]);
    expect(await fuseHelpersUnder(dir)).toEqual([]);
  }, 600_000);

  /**
   * Backups through CSI, Longhorn's way: a VolumeSnapshot of class `type: bak` becomes a Snapshot
   * CR and a Backup CR that the operator uploads to the backup target (MinIO here); a PVC whose
   * dataSource is that VolumeSnapshot is a Volume with spec.fromBackup, restored before its pod
   * may mount it. When the cluster has no backup target, this test runs its own MinIO and points
   * the BackupTarget "default" at it, and puts it back after.
   */
  it('type bak: VolumeSnapshot → Backup Completed in the target → a PVC restored from it holds exactly the backed-up files', async () => {
    dumpLogsOnFailure();
    const k = cluster.kubectl;
    type Target = KubeObject & { spec?: { backupTargetURL?: string; credentialSecret?: string } };
    type BackupCr = KubeObject & {
      spec: { snapshotName?: string };
      status?: { state?: string; url?: string; volumeName?: string; volumeSize?: string; error?: string };
    };
    type RestoredVolume = KubeObject & {
      spec: { fromBackup?: string; size?: string };
      status?: { restoreRequired?: boolean; restoreInitiated?: boolean };
    };
    const BACKUPS = 'backups.longhorn.io';
    const TARGETS = 'backuptargets.longhorn.io';
    const before = await k.tryGet<Target>(TARGETS, 'default', NS);
    let minio: MinioServer | undefined;
    const pods = ['bak-writer', 'bak-reader'];
    const claims = ['bak-src', 'bak-restored'];
    let backupName = '';
    try {
      if (!before?.spec?.backupTargetURL) {
        minio = await MinioServer.start(dir);
        await k.apply(minio.secretYaml('csi-e2e-minio'));
        await k.apply(minio.backupTargetYaml('default', 'csi-e2e-minio'));
      }
      await waitFor(
        'the default backup target to be available',
        async () =>
          (await k.get<Target & { status?: { available?: boolean } }>(TARGETS, 'default', NS)).status
            ?.available === true,
        { timeoutMs: 60_000, maxIntervalMs: 1000 },
      );

      await k.apply(pvcYaml('bak-src'));
      const src = await k.waitForObject<Pvc>('pvc', 'bak-src', (p) => p.status?.phase === 'Bound', {
        namespace: 'default',
        timeoutMs: 90_000,
      });
      const srcPv = src.spec.volumeName!;
      const srcMount = await mountedPod('bak-writer', 'bak-src');
      const big = randomBytes(3 * 1024 * 1024);
      await writeFile(join(srcMount, 'a.txt'), 'in the backup\n');
      await writeFile(join(srcMount, 'big.bin'), big);
      await writeFile(
        join(srcMount, 'sparse.bin'),
        Buffer.concat([Buffer.alloc(8 * 1024 * 1024), big.subarray(0, 4096)]),
      );
      await exec('sync', ['-f', join(srcMount, 'a.txt')]);
      const atBackup = await filePrint(srcMount);
      expect(Object.keys(atBackup).sort()).toEqual(['a.txt', 'big.bin', 'sparse.bin']);

      let t0 = Date.now();
      await k.apply(`apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata: {name: bak1, namespace: default}
spec:
  volumeSnapshotClassName: longhorn-backup-vsc
  source: {persistentVolumeClaimName: bak-src}
`);
      const vs = await k.waitForObject<
        KubeObject & { status?: { readyToUse?: boolean; boundVolumeSnapshotContentName?: string } }
      >('volumesnapshot', 'bak1', (s) => s.status?.readyToUse === true, {
        namespace: 'default',
        timeoutMs: 300_000,
      });
      figures.push(`bak VolumeSnapshot readyToUse ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      const content = await k.get<
        KubeObject & { status?: { snapshotHandle?: string; restoreSize?: number } }
      >('volumesnapshotcontent', vs.status!.boundVolumeSnapshotContentName!);
      const handle = content.status?.snapshotHandle ?? '';
      expect(handle).toMatch(new RegExp(`^bak://${srcPv}/backup-[0-9a-f]{16}$`));
      expect(content.status?.restoreSize).toBe(64 * MiB);
      backupName = handle.split('/').pop()!;
      const backup = await k.get<BackupCr>(BACKUPS, backupName, NS);
      expect((backup.metadata.labels as Record<string, string> | undefined)?.['backup-volume']).toBe(srcPv);
      expect(backup.status?.state).toBe('Completed');
      expect(backup.status?.url).toMatch(new RegExp(`\\?backup=${backupName}&volume=${srcPv}$`));
      expect(backup.status?.volumeSize).toBe(String(64 * MiB));
      // The backup is of a Snapshot CR of the volume, which stays (as in Longhorn).
      const snapshot = await k.get<KubeObject & { spec: { volume: string } }>(
        LH.snapshots,
        backup.spec.snapshotName!,
        NS,
      );
      expect(snapshot.spec.volume).toBe(srcPv);
      // The CSI controller lists it with the volume's snapshots, ready.
      const listed = await controller.call('listSnapshots', { sourceVolumeId: srcPv });
      const entry = listed.entries.find(
        (e: { snapshot: { snapshotId: string } }) => e.snapshot.snapshotId === handle,
      )?.snapshot;
      expect(entry).toMatchObject({ sourceVolumeId: srcPv, readyToUse: true });
      expect(Number(entry.sizeBytes)).toBe(64 * MiB);

      // After the backup: overwrite and add. The restore must show none of it.
      await writeFile(join(srcMount, 'a.txt'), 'after the backup\n');
      await writeFile(join(srcMount, 'c.txt'), 'added after the backup\n');
      await exec('sync', ['-f', join(srcMount, 'a.txt')]);

      t0 = Date.now();
      await k.apply(
        pvcYaml(
          'bak-restored',
          '64Mi',
          '{apiGroup: snapshot.storage.k8s.io, kind: VolumeSnapshot, name: bak1}',
        ),
      );
      const restored = await k.waitForObject<Pvc>('pvc', 'bak-restored', (p) => p.status?.phase === 'Bound', {
        namespace: 'default',
        timeoutMs: 120_000,
      });
      figures.push(`restored PVC Bound ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      const rv = await k.get<RestoredVolume>(LH.volumes, restored.spec.volumeName!, NS);
      expect(rv.spec.fromBackup).toBe(backup.status?.url);
      expect(rv.spec.size).toBe(String(64 * MiB));
      // The pod waits for the restore: ControllerPublish answers ABORTED until it is done.
      const restoredMount = await mountedPod('bak-reader', 'bak-restored');
      figures.push(`restored volume mounted ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      const done = await k.get<RestoredVolume>(LH.volumes, restored.spec.volumeName!, NS);
      expect(done.status).toMatchObject({ restoreInitiated: true, restoreRequired: false });
      expect(await filePrint(restoredMount)).toEqual(atBackup);
      expect(await readFile(join(restoredMount, 'a.txt'), 'utf8')).toBe('in the backup\n');

      // A class without parameters is a backup too (Longhorn's default), straight through CSI.
      const direct = await waitFor(
        'a CreateSnapshot without parameters to complete',
        async () => {
          const r = await controller.call('createSnapshot', {
            name: 'csi-e2e-no-type',
            sourceVolumeId: srcPv,
            parameters: {},
          });
          return r.snapshot.readyToUse ? r.snapshot : undefined;
        },
        { timeoutMs: 180_000, maxIntervalMs: 2000 },
      );
      expect(direct.snapshotId).toMatch(new RegExp(`^bak://${srcPv}/backup-[0-9a-f]{16}$`));
      const directBackup = direct.snapshotId.split('/').pop()!;
      expect((await k.get<BackupCr>(BACKUPS, directBackup, NS)).status?.state).toBe('Completed');
      await waitFor(
        'DeleteSnapshot of the bak id',
        () => controller.call('deleteSnapshot', { snapshotId: direct.snapshotId }).then(() => true),
        { timeoutMs: 120_000, maxIntervalMs: 2000 },
      );
      expect(await k.tryGet(BACKUPS, directBackup, NS)).toBeUndefined();

      // The StorageClass parameter fromBackup (Longhorn's) restores too; no size asked: the backup's.
      const cap = {
        accessType: 'mount',
        mount: { fsType: 'ext4' },
        accessMode: { mode: 'SINGLE_NODE_WRITER' },
      };
      const url = backup.status!.url!;
      const fromParameter = await controller.call('createVolume', {
        name: 'bak-sc-restore',
        volumeCapabilities: [cap],
        parameters: { numberOfReplicas: '1', fromBackup: url },
      });
      expect(Number(fromParameter.volume.capacityBytes)).toBe(64 * MiB);
      expect((await k.get<RestoredVolume>(LH.volumes, 'bak-sc-restore', NS)).spec.fromBackup).toBe(url);
      await k.waitForObject<RestoredVolume>(
        LH.volumes,
        'bak-sc-restore',
        (v) => v.status?.restoreInitiated === true && v.status.restoreRequired === false,
        { namespace: NS, timeoutMs: 180_000 },
      );
      // That volume, detached (no pod), is backed up too: attached for the snapshot and the
      // backup, detached again after; the backup holds the restored bytes' volume size.
      await k.waitForObject<KubeObject & { status?: { state?: string } }>(
        LH.volumes,
        'bak-sc-restore',
        (v) => v.status?.state === 'detached',
        { namespace: NS, timeoutMs: 120_000 },
      );
      const detachedBackup = await waitFor(
        'a bak CreateSnapshot of the detached volume to complete',
        async () => {
          const r = await controller.call('createSnapshot', {
            name: 'csi-e2e-detached',
            sourceVolumeId: 'bak-sc-restore',
            parameters: { type: 'bak' },
          });
          return r.snapshot.readyToUse ? r.snapshot : undefined;
        },
        { timeoutMs: 240_000, maxIntervalMs: 2000 },
      );
      expect(detachedBackup.snapshotId).toMatch(/^bak:\/\/bak-sc-restore\/backup-[0-9a-f]{16}$/);
      expect(Number(detachedBackup.sizeBytes)).toBe(64 * MiB);
      await waitFor(
        'the volume to detach once its backup is done (no ticket left)',
        async () => {
          const [v, va] = await Promise.all([
            k.get<KubeObject & { status?: { state?: string } }>(LH.volumes, 'bak-sc-restore', NS),
            k.tryGet<KubeObject & { spec: { attachmentTickets?: Record<string, unknown> } }>(
              LH.attachments,
              'bak-sc-restore',
              NS,
            ),
          ]);
          return v.status?.state === 'detached' && Object.keys(va?.spec.attachmentTickets ?? {}).length === 0;
        },
        { timeoutMs: 120_000, maxIntervalMs: 1000 },
      );
      await waitFor(
        'DeleteSnapshot of the detached volume’s backup',
        () => controller.call('deleteSnapshot', { snapshotId: detachedBackup.snapshotId }).then(() => true),
        { timeoutMs: 120_000, maxIntervalMs: 2000 },
      );
      // Refused: an unknown backup, a size below the backup's, a fromBackup that names no backup.
      const missing = `bak://${srcPv}/backup-0000000000000000`;
      expect(
        await refusal(
          controller.call('createVolume', {
            name: 'bak-nowhere',
            volumeCapabilities: [cap],
            volumeContentSource: { snapshot: { snapshotId: missing } },
          }),
        ),
      ).toBe(
        `NOT_FOUND: source snapshot ${missing} not found (no Backup backup-0000000000000000 of volume ${srcPv})`,
      );
      expect(
        await refusal(
          controller.call('createVolume', {
            name: 'bak-small',
            volumeCapabilities: [cap],
            capacityRange: { requiredBytes: 32 * MiB },
            volumeContentSource: { snapshot: { snapshotId: handle } },
          }),
        ),
      ).toBe(
        "OUT_OF_RANGE: requested 33554432 bytes is less than the source's 67108864 bytes: a volume made from it must hold it",
      );
      expect(
        await refusal(
          controller.call('createVolume', {
            name: 'bak-bad-url',
            volumeCapabilities: [cap],
            parameters: { fromBackup: 's3://backupbucket@us-east-1/' },
          }),
        ),
      ).toMatch(
        /^INVALID_ARGUMENT: parameter fromBackup: "s3:\/\/backupbucket@us-east-1\/" is not a backup URL/,
      );
      // A restore that cannot succeed (the target has no such backup): the volume is never
      // published; ControllerPublish answers ABORTED while the restore is tried, then
      // FAILED_PRECONDITION naming the restore's failure.
      const lostUrl = url.replace(/backup=[^&]+/, 'backup=backup-0000000000000000');
      await controller.call('createVolume', {
        name: 'bak-lost',
        volumeCapabilities: [cap],
        capacityRange: { requiredBytes: 64 * MiB },
        parameters: { numberOfReplicas: '1', fromBackup: lostUrl },
      });
      const answers = new Set<string>();
      const publishLost = () =>
        refusal(
          controller.call('controllerPublishVolume', {
            volumeId: 'bak-lost',
            nodeId: 'node-1',
            volumeCapability: cap,
          }),
        );
      const lost = await waitFor(
        'ControllerPublish of bak-lost to be refused for good',
        async () => {
          const answer = await publishLost();
          answers.add(answer.split(':')[0]!);
          return answer.startsWith('FAILED_PRECONDITION') ? answer : undefined;
        },
        { timeoutMs: 180_000, maxIntervalMs: 2000 },
      );
      expect(lost).toMatch(
        /^FAILED_PRECONDITION: volume bak-lost could not be restored from s3:\/\/.*backup=backup-0000000000000000.*: .*not found.* \(see its Events\); it holds no usable data: delete it$/,
      );
      expect([...answers].every((a) => a === 'ABORTED' || a === 'FAILED_PRECONDITION')).toBe(true);
      figures.push(`lost-backup restore: publish answers ${[...answers].join(' then ')}`);
      // A volume whose backups go to a BackupTarget that does not exist: FAILED_PRECONDITION,
      // saying how to set one, before any snapshot is taken.
      await controller.call('createVolume', {
        name: 'bak-no-target',
        volumeCapabilities: [cap],
        capacityRange: { requiredBytes: 16 * MiB },
        parameters: { numberOfReplicas: '1', backupTargetName: 'nowhere' },
      });
      expect(
        await refusal(
          controller.call('createSnapshot', {
            name: 'no-target',
            sourceVolumeId: 'bak-no-target',
            parameters: {},
          }),
        ),
      ).toMatch(
        /^FAILED_PRECONDITION: volume bak-no-target cannot be backed up: backup target "nowhere" has no URL\. Set one, e\.g\. kubectl -n longhorn-system patch backuptarget nowhere --type merge/,
      );
      expect(
        (await k.list<KubeObject & { spec: { volume: string } }>(LH.snapshots, NS)).filter(
          (x) => x.spec.volume === 'bak-no-target',
        ),
      ).toEqual([]);
    } finally {
      await controller
        .call('controllerUnpublishVolume', { volumeId: 'bak-lost', nodeId: 'node-1' })
        .catch(() => undefined);
      for (const v of ['bak-sc-restore', 'bak-no-target', 'bak-lost'])
        await controller.call('deleteVolume', { volumeId: v }).catch(() => undefined);
      await k.run([
        'delete',
        'pod',
        ...pods,
        '-n',
        'default',
        '--ignore-not-found',
        '--wait=true',
        '--timeout=180s',
      ]);
      // Deleting the VolumeSnapshot deletes the backup (DeleteSnapshot of its bak:// id).
      await k.run([
        'delete',
        'volumesnapshot',
        'bak1',
        '-n',
        'default',
        '--ignore-not-found',
        '--wait=true',
        '--timeout=180s',
      ]);
      await k.run([
        'delete',
        'pvc',
        ...claims,
        '-n',
        'default',
        '--ignore-not-found',
        '--wait=true',
        '--timeout=180s',
      ]);
      if (backupName)
        await waitFor(
          `Backup ${backupName} to be deleted`,
          async () => (await k.tryGet(BACKUPS, backupName, NS)) === undefined,
          { timeoutMs: 120_000, maxIntervalMs: 1000 },
        );
      if (minio) {
        if (before)
          await k.run([
            'patch',
            TARGETS,
            'default',
            '-n',
            NS,
            '--type=merge',
            '-p',
            JSON.stringify({
              spec: {
                backupTargetURL: before.spec?.backupTargetURL ?? '',
                credentialSecret: before.spec?.credentialSecret ?? '',
              },
            }),
          ]);
        else await k.run(['delete', TARGETS, 'default', '-n', NS, '--ignore-not-found', '--wait=true']);
        await k.run(['delete', 'secret', 'csi-e2e-minio', '-n', NS, '--ignore-not-found']);
        await minio.stop();
      }
    }
    expect(await mountsUnder(dir)).toEqual([]);
    expect(await loopDevicesUnder(dir)).toEqual([]);
  }, 900_000);
});
