import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, stat, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CSI_DRIVER_NAME } from '@longhorn-ts/api';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { Cluster, stopAbandonedClusters } from '../src/harness/cluster.js';
import { loopDevicesUnder, mountsUnder } from '../src/harness/host-cleanup.js';
import type { KubeObject } from '../src/harness/kubectl.js';
import { type AccessType, kubeletPaths } from '../src/harness/kubelet-csi.js';
import { csiAvailable, LONGHORN_STORAGE_CLASS } from '../src/harness/longhorn-csi.js';
import { getVolume } from '../src/harness/longhorn-volumes.js';
import { waitFor } from '../src/harness/wait.js';

// The kubelet stand-in's less common paths on the real control plane: kubelet's part of an
// online expansion, a generic ephemeral volume, a raw block volume (volumeDevices).

const exec = promisify(execFile);
const skip = process.env.LONGHORN_TS_SKIP_K8S === '1' || !csiAvailable();
const NS = 'default';

interface Pvc extends KubeObject {
  spec: { volumeName?: string };
  status?: { phase?: string; capacity?: { storage?: string }; allocatedResourceStatuses?: object };
}
interface Pod extends KubeObject {
  spec: { nodeName?: string };
  status?: { conditions?: { type: string; status: string }[] };
}

const podReady = (p: Pod) =>
  p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

describe.skipIf(skip)('kubelet stand-in: expansion, generic ephemeral and block volumes', () => {
  let dir: string;
  let cluster: Cluster;
  const figures: string[] = [];

  beforeAll(async () => {
    await stopAbandonedClusters(tmpdir(), 'lh-e2e-standin-');
    dir = await mkdtemp(join(tmpdir(), 'lh-e2e-standin-'));
    cluster = await Cluster.start({ dir, nodes: 3, longhorn: true, timeoutMs: 180_000 });
  }, 240_000);

  afterAll(async () => {
    if (figures.length > 0) process.stdout.write(`[kubelet-standin.test] ${figures.join('; ')}\n`);
    await cluster?.stop();
  }, 60_000);

  const dumpLogsOnFailure = () =>
    onTestFailed(async () => {
      process.stderr.write(`${await cluster.logTails(40)}\n`);
    });

  /** kubelet's path of a pod's volume, from the pod and its claim. */
  async function podPath(pod: Pod, claim: string, accessType: AccessType = 'mount') {
    const pvName = (await cluster.kubectl.get<Pvc>('pvc', claim, NS)).spec.volumeName!;
    const paths = kubeletPaths(cluster.node(pod.spec.nodeName!).dataDir, {
      driverName: CSI_DRIVER_NAME,
      pvName,
      volumeHandle: pvName,
      podUid: String(pod.metadata.uid),
      accessType,
    });
    return { pvName, ...paths };
  }

  async function deleteAll(pods: string[], pvcs: string[]): Promise<void> {
    const k = cluster.kubectl;
    for (const p of pods)
      await k.run(['delete', 'pod', p, '-n', NS, '--ignore-not-found', '--wait=true', '--timeout=120s']);
    for (const c of pvcs)
      await k.run(['delete', 'pvc', c, '-n', NS, '--ignore-not-found', '--wait=true', '--timeout=120s']);
  }

  // xfs: it grows while mounted without CAP_SYS_RESOURCE, which ext4's online resize needs and
  // which these machines' root lacks (csi-expansion.test.ts covers ext4 both ways).
  it('an xfs PVC grown while its pod runs: NodeExpandVolume from the stand-in, the claim shows the new size, the mounted file system grew, the file is intact', async () => {
    dumpLogsOnFailure();
    const k = cluster.kubectl;
    try {
      await k.apply({
        ...LONGHORN_STORAGE_CLASS,
        metadata: { name: 'longhorn-xfs' },
        parameters: { ...LONGHORN_STORAGE_CLASS.parameters, fsType: 'xfs' },
      });
      await k.apply(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: grow, namespace: ${NS}}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: longhorn-xfs
  resources: {requests: {storage: 320Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: grower, namespace: ${NS}}
spec:
  containers: [{name: app, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: grow}}]
`);
      const pod = await k.waitForObject<Pod>('pod', 'grower', podReady, {
        namespace: NS,
        timeoutMs: 120_000,
      });
      const { targetPath } = await podPath(pod, 'grow');
      const sizeOf = async () => {
        const s = await statfs(targetPath);
        return s.blocks * s.bsize;
      };
      const before = await sizeOf();
      expect(before).toBeLessThan(320 * 1024 * 1024);
      const text = `written before the expansion at ${new Date().toISOString()}\n`;
      await writeFile(join(targetPath, 'before.txt'), text);
      const t0 = Date.now();
      await k.run([
        'patch',
        'pvc',
        'grow',
        '-n',
        NS,
        '--type=merge',
        '-p',
        '{"spec":{"resources":{"requests":{"storage":"640Mi"}}}}',
      ]);
      const grown = await k.waitForObject<Pvc>(
        'pvc',
        'grow',
        (p) => p.status?.capacity?.storage === '640Mi',
        {
          namespace: NS,
          timeoutMs: 120_000,
        },
      );
      figures.push(`xfs PVC 320Mi → 640Mi with its pod running: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      expect(grown.status?.allocatedResourceStatuses ?? {}).toEqual({});
      // xfs keeps its log and metadata out of statfs's total: twice the device, not quite twice that.
      expect(await sizeOf()).toBeGreaterThan(before + 300 * 1024 * 1024);
      expect(await readFile(join(targetPath, 'before.txt'), 'utf8')).toBe(text);
      const events = await k.list<
        KubeObject & { reason: string; message: string; involvedObject: { name: string } }
      >('events', NS);
      const resized = events.find(
        (e) => e.involvedObject.name === 'grower' && e.reason === 'FileSystemResizeSuccessful',
      );
      expect(resized?.message).toMatch(/^MountVolume\.NodeExpandVolume succeeded for volume "pvc-/);
    } finally {
      await deleteAll(['grower'], ['grow']);
    }
  }, 300_000);

  it('a generic ephemeral volume: the claim made for the pod is mounted, and goes with the pod', async () => {
    dumpLogsOnFailure();
    const k = cluster.kubectl;
    try {
      await k.apply(`apiVersion: v1
kind: Pod
metadata: {name: scratch, namespace: ${NS}}
spec:
  containers: [{name: app, image: busybox, volumeMounts: [{name: tmp, mountPath: /tmp}]}]
  volumes:
  - name: tmp
    ephemeral:
      volumeClaimTemplate:
        spec:
          accessModes: [ReadWriteOnce]
          storageClassName: longhorn
          resources: {requests: {storage: 32Mi}}
`);
      const pod = await k.waitForObject<Pod>('pod', 'scratch', podReady, {
        namespace: NS,
        timeoutMs: 120_000,
      });
      const { pvName, targetPath } = await podPath(pod, 'scratch-tmp');
      expect(
        (await readFile('/proc/self/mountinfo', 'utf8'))
          .split('\n')
          .some((l) => l.split(' ')[4] === targetPath),
      ).toBe(true);
      await writeFile(join(targetPath, 'x'), 'scratch');
      await k.run(['delete', 'pod', 'scratch', '-n', NS, '--wait=true', '--timeout=120s']);
      // The claim is owned by the pod: the garbage collector deletes it, then the volume goes.
      await waitFor(
        'the ephemeral claim and its volume to go',
        async () => !(await k.tryGet('pvc', 'scratch-tmp', NS)) && !(await getVolume(k, pvName)),
        { timeoutMs: 120_000, maxIntervalMs: 500 },
      );
    } finally {
      await deleteAll(['scratch'], ['scratch-tmp']);
    }
  }, 300_000);

  it('a raw block volume (volumeDevices): the published device reads back what was written to it', async () => {
    dumpLogsOnFailure();
    const k = cluster.kubectl;
    try {
      await k.apply(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: raw, namespace: ${NS}}
spec:
  accessModes: [ReadWriteOnce]
  volumeMode: Block
  storageClassName: longhorn
  resources: {requests: {storage: 32Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: rawuser, namespace: ${NS}}
spec:
  containers: [{name: app, image: busybox, volumeDevices: [{name: data, devicePath: /dev/xvda}]}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: raw}}]
`);
      const pod = await k.waitForObject<Pod>('pod', 'rawuser', podReady, {
        namespace: NS,
        timeoutMs: 120_000,
      });
      const { targetPath } = await podPath(pod, 'raw', 'block');
      expect((await stat(targetPath)).isBlockDevice()).toBe(true);
      const { stdout: size } = await exec('blockdev', ['--getsize64', targetPath]);
      expect(Number(size.trim())).toBe(32 * 1024 * 1024);
      const data = randomBytes(1 << 20);
      const source = join(dir, 'raw.bin');
      await writeFile(source, data);
      await exec('dd', [
        `if=${source}`,
        `of=${targetPath}`,
        'bs=1M',
        'seek=3',
        'oflag=direct',
        'status=none',
      ]);
      const back = join(dir, 'raw-back.bin');
      await exec('dd', [
        `if=${targetPath}`,
        `of=${back}`,
        'bs=1M',
        'skip=3',
        'count=1',
        'iflag=direct',
        'status=none',
      ]);
      expect((await readFile(back)).equals(data)).toBe(true);
    } finally {
      await deleteAll(['rawuser'], ['raw']);
    }
  }, 300_000);

  it('two pods of one node share a claim: one staging, two publishes; the first pod gone, the second keeps its mount; the last one gone, unstaged', async () => {
    dumpLogsOnFailure();
    const k = cluster.kubectl;
    const podOn = (name: string, node?: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${NS}}
spec:
${node ? `  nodeName: ${node}\n` : ''}  containers: [{name: app, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: shared}}]
`;
    const mounted = async (path: string) =>
      (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').some((l) => l.split(' ')[4] === path);
    try {
      await k.apply(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: shared, namespace: ${NS}}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: longhorn
  resources: {requests: {storage: 32Mi}}
`);
      await k.apply(podOn('first'));
      const first = await k.waitForObject<Pod>('pod', 'first', podReady, {
        namespace: NS,
        timeoutMs: 120_000,
      });
      // ReadWriteOnce is per node: a second pod on the same node shares the staged volume.
      await k.apply(podOn('second', first.spec.nodeName));
      const second = await k.waitForObject<Pod>('pod', 'second', podReady, {
        namespace: NS,
        timeoutMs: 120_000,
      });
      const a = await podPath(first, 'shared');
      const b = await podPath(second, 'shared');
      expect(a.stagingTargetPath).toBe(b.stagingTargetPath);
      expect(await mounted(a.targetPath)).toBe(true);
      expect(await mounted(b.targetPath)).toBe(true);
      await writeFile(join(a.targetPath, 'shared.txt'), 'seen by both');
      expect(await readFile(join(b.targetPath, 'shared.txt'), 'utf8')).toBe('seen by both');
      await k.run(['delete', 'pod', 'first', '-n', NS, '--wait=true', '--timeout=120s']);
      expect(await mounted(a.targetPath)).toBe(false);
      expect(await mounted(b.stagingTargetPath)).toBe(true);
      expect(await readFile(join(b.targetPath, 'shared.txt'), 'utf8')).toBe('seen by both');
      await k.run(['delete', 'pod', 'second', '-n', NS, '--wait=true', '--timeout=120s']);
      expect(await mounted(b.targetPath)).toBe(false);
      expect(await mounted(b.stagingTargetPath)).toBe(false);
    } finally {
      await deleteAll(['first', 'second'], ['shared']);
    }
  }, 300_000);

  it("a mount the driver refuses: FailedMount on the pod carries the driver's code and message, the pod stays Pending and nothing is mounted", async () => {
    dumpLogsOnFailure();
    const k = cluster.kubectl;
    try {
      // A volume made ext4 by a first pod ...
      await k.apply(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: first, namespace: ${NS}}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: longhorn
  resources: {requests: {storage: 32Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: formatter, namespace: ${NS}}
spec:
  containers: [{name: app, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: first}}]
`);
      await k.waitForObject<Pod>('pod', 'formatter', podReady, { namespace: NS, timeoutMs: 120_000 });
      const handle = (await k.get<Pvc>('pvc', 'first', NS)).spec.volumeName!;
      await k.run(['delete', 'pod', 'formatter', '-n', NS, '--wait=true', '--timeout=120s']);
      // ... then statically bound to a second claim as xfs: NodeStage refuses it.
      await k.apply(`apiVersion: v1
kind: PersistentVolume
metadata: {name: wrong-fs}
spec:
  capacity: {storage: 32Mi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  csi: {driver: ${CSI_DRIVER_NAME}, volumeHandle: ${handle}, fsType: xfs}
  claimRef: {namespace: ${NS}, name: second}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: second, namespace: ${NS}}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: ""
  volumeName: wrong-fs
  resources: {requests: {storage: 32Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: refused, namespace: ${NS}}
spec:
  containers: [{name: app, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: second}}]
`);
      const event = await waitFor(
        'a FailedMount event on pod refused',
        async () =>
          (
            await k.list<KubeObject & { reason: string; message: string; involvedObject: { name: string } }>(
              'events',
              NS,
            )
          ).find((e) => e.involvedObject.name === 'refused' && e.reason === 'FailedMount'),
        { timeoutMs: 120_000 },
      );
      expect(event.message).toBe(
        `MountVolume.SetUp failed for volume "wrong-fs" : rpc error: code = FAILED_PRECONDITION desc = volume ${handle} holds a ext4 file system, xfs was asked for`,
      );
      const pod = await k.get<Pod & { status?: { phase?: string } }>('pod', 'refused', NS);
      expect(pod.status?.phase).toBe('Pending');
      expect((await mountsUnder(dir)).filter((m) => m.includes(String(pod.metadata.uid)))).toEqual([]);
    } finally {
      await deleteAll(['formatter', 'refused'], ['second']);
      await k.run(['delete', 'pv', 'wrong-fs', '--ignore-not-found', '--wait=true', '--timeout=60s']);
      await deleteAll([], ['first']);
    }
  }, 300_000);

  it('leaves no mount or loop device behind', async () => {
    dumpLogsOnFailure();
    await waitFor(
      'every Longhorn Volume to go',
      async () => (await cluster.kubectl.list('volumes.longhorn.io', 'longhorn-system')).length === 0,
      { timeoutMs: 120_000 },
    );
    expect(await mountsUnder(dir)).toEqual([]);
    expect(await loopDevicesUnder(dir)).toEqual([]);
  });
});
