import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CSI_DRIVER_NAME } from '@longhorn-ts/api';
import { CsiCallError, CsiClient } from '@longhorn-ts/csi';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { Cluster, stopAbandonedClusters } from '../src/harness/cluster.js';
import { loopDevicesUnder, mountsUnder } from '../src/harness/host-cleanup.js';
import type { KubeObject } from '../src/harness/kubectl.js';
import { kubeletPaths } from '../src/harness/kubelet-csi.js';
import { csiAvailable } from '../src/harness/longhorn-csi.js';
import { LH } from '../src/harness/longhorn-volumes.js';
import { waitFor } from '../src/harness/wait.js';

/**
 * Issue #9, content source: a PVC restored from a VolumeSnapshot and a PVC cloned from another
 * PVC, end to end on a 3-node cluster: the external-provisioner's CreateVolume with a content
 * source, the operator's clone (source snapshot, tickets, the engine's SnapshotClone), the
 * attacher held until the copy completed, and pods whose volumes the kubelet stand-in mounts.
 * The files read back are compared byte for byte with what the source held at the snapshot.
 */

const skip = process.env.LONGHORN_TS_SKIP_K8S === '1' || !csiAvailable();
const NS = 'longhorn-system';

interface Pvc extends KubeObject {
  spec: { volumeName?: string };
  status?: { phase?: string };
}
interface Pod extends KubeObject {
  spec: { nodeName?: string };
  status?: { phase?: string };
}
interface LhVolume extends KubeObject {
  spec: { dataSource?: string; size?: string };
  status?: { state?: string; cloneStatus?: { sourceVolume?: string; snapshot?: string; state?: string } };
}
interface LhVolumeAttachment extends KubeObject {
  spec: { attachmentTickets?: Record<string, { type?: string }> };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function isMountPoint(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === path);
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

const pvcYaml = (name: string, dataSource = '') => `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: ${name}, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: longhorn
  resources: {requests: {storage: 64Mi}}
${dataSource}`;

const podYaml = (name: string, claim: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: default}
spec:
  containers: [{name: app, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: ${claim}}}]
`;

/** Every regular file under `dir` (lost+found left out) with the SHA-256 of its bytes. */
async function filePrint(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name === 'lost+found' || !e.isFile()) continue;
    out[e.name] = sha(await readFile(join(dir, e.name)));
  }
  return out;
}

describe.skipIf(skip)('CSI content source: restore from a VolumeSnapshot, clone a PVC', () => {
  let dir: string;
  let cluster: Cluster;
  let controller: CsiClient;
  const figures: string[] = [];

  beforeAll(async () => {
    await stopAbandonedClusters(tmpdir(), 'lh-e2e-clone-');
    dir = await mkdtemp(join(tmpdir(), 'lh-e2e-clone-'));
    cluster = await Cluster.start({ dir, nodes: 3, longhorn: true, timeoutMs: 180_000 });
    controller = new CsiClient(`unix://${join(dir, 'run', 'csi', 'controller.sock')}`);
  }, 240_000);

  afterAll(async () => {
    controller?.close();
    if (figures.length > 0) process.stdout.write(`[csi-clone.test] ${figures.join('; ')}\n`);
    await cluster?.stop();
  }, 90_000);

  const dumpLogsOnFailure = () =>
    onTestFailed(async () => {
      process.stderr.write(`${await cluster.logTails(60)}\n`);
    });

  /** A pod on `claim`, once the stand-in mounted it: the host path of its volume. */
  async function mountedPod(pod: string, claim: string): Promise<string> {
    const k = cluster.kubectl;
    await k.apply(podYaml(pod, claim));
    const pvc = await k.get<Pvc>('pvc', claim, 'default');
    const p = await k.waitForObject<Pod>('pod', pod, (x) => x.status?.phase === 'Running', {
      namespace: 'default',
      timeoutMs: 240_000,
    });
    const { targetPath } = kubeletPaths(cluster.node(p.spec.nodeName!).dataDir, {
      driverName: CSI_DRIVER_NAME,
      pvName: pvc.spec.volumeName!,
      volumeHandle: pvc.spec.volumeName!,
      podUid: String(p.metadata.uid),
      accessType: 'mount',
    });
    expect(isMountPoint(targetPath)).toBe(true);
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

    // Files at the snapshot: text, 3 MiB of random bytes, a sparse file with data past a hole.
    const big = randomBytes(3 * 1024 * 1024);
    await writeFile(join(srcMount, 'a.txt'), 'before the snapshot\n');
    await writeFile(join(srcMount, 'big.bin'), big);
    await writeFile(
      join(srcMount, 'sparse.bin'),
      Buffer.concat([Buffer.alloc(8 * 1024 * 1024), big.subarray(0, 4096)]),
    );
    execFileSync('sync', ['-f', join(srcMount, 'a.txt')]);
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
    execFileSync('sync', ['-f', join(srcMount, 'a.txt')]);
    const current = await filePrint(srcMount);
    expect(current['a.txt']).not.toBe(atSnapshot['a.txt']);

    let t0 = Date.now();
    await k.apply(
      pvcYaml(
        'restored',
        `  dataSource: {apiGroup: snapshot.storage.k8s.io, kind: VolumeSnapshot, name: snap1}\n`,
      ),
    );
    await k.apply(pvcYaml('cloned', `  dataSource: {kind: PersistentVolumeClaim, name: src}\n`));
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
      k.waitForObject<LhVolume>(LH.volumes, pv, (v) => v.status?.cloneStatus?.state === 'completed', {
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
        (await k.list<LhVolumeAttachment>(LH.attachments, NS)).every((va) =>
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
    await k.run(['delete', 'pod', '--all', '-n', 'default', '--wait=true', '--timeout=180s']);
    await k.run(['delete', 'volumesnapshot', '--all', '-n', 'default', '--wait=true', '--timeout=120s']);
    await k.run(['delete', 'pvc', '--all', '-n', 'default', '--wait=true', '--timeout=180s']);
    await waitFor(
      'the Longhorn Volumes to go',
      async () => (await k.list<LhVolume>(LH.volumes, NS)).length === 0,
      { timeoutMs: 180_000, maxIntervalMs: 1000 },
    );
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
    const v = await k.get<LhVolume>(LH.volumes, copy.volume.volumeId, NS);
    expect(v.spec.dataSource).toBe(`vol://${base.volume.volumeId}`);

    // A Volume made from a snapshot its source does not have: cloneStatus failed and an Event.
    await k.apply(`apiVersion: longhorn.io/v1beta2
kind: Volume
metadata: {name: lost-source, namespace: ${NS}}
spec: {size: "67108864", numberOfReplicas: 1, dataSource: "snap://${base.volume.volumeId}/no-such-snapshot"}
`);
    await k.waitForObject<LhVolume>(
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
});
