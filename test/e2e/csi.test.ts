import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CSI_DRIVER_NAME } from '@longhorn-ts/api';
import { CsiCallError, CsiClient, csiDriverObject } from '@longhorn-ts/csi';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { Cluster, stopAbandonedClusters } from '../src/harness/cluster.js';
import { loopDevicesUnder, mountsUnder } from '../src/harness/host-cleanup.js';
import type { KubeObject } from '../src/harness/kubectl.js';
import {
  type CsiNodeClient,
  type KubeletVolume,
  kubeletMountVolume,
  kubeletUnmountVolume,
} from '../src/harness/kubelet-csi.js';
import {
  csiAvailable,
  LONGHORN_CSI_DRIVER,
  nodePluginSocket,
  startCsiNodePlugin,
} from '../src/harness/longhorn-csi.js';
import { LH } from '../src/harness/longhorn-volumes.js';
import { waitFor } from '../src/harness/wait.js';

const skip = process.env.LONGHORN_TS_SKIP_K8S === '1' || !csiAvailable();

interface Pvc extends KubeObject {
  spec: { volumeName?: string };
  status?: { phase?: string };
}
interface Pv extends KubeObject {
  spec: { csi?: { volumeHandle: string; volumeAttributes?: Record<string, string>; fsType?: string } };
}
interface Pod extends KubeObject {
  spec: { nodeName?: string };
}
interface StorageVa extends KubeObject {
  spec: { nodeName: string; source: { persistentVolumeName?: string } };
  status?: { attached?: boolean; attachmentMetadata?: Record<string, string> };
}

/** Running (non-zombie) nbdfuse processes whose command line mentions `text`. */
function nbdfuseMentioning(text: string): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        return cmd.startsWith('nbdfuse') && cmd.includes(text);
      } catch {
        return false;
      }
    })
    .map(Number);
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

const pvcYaml = (name: string, size = '64Mi') => `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: ${name}, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: longhorn
  resources: {requests: {storage: ${size}}}
`;

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

  it('PVC → Bound → Pod → staged and published by the kubelet stand-in → a file reads back; VolumeSnapshot readyToUse; delete leaves nothing', async () => {
    dumpLogsOnFailure();
    const k = cluster.kubectl;
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

    t0 = Date.now();
    await k.apply(`apiVersion: v1
kind: Pod
metadata: {name: app, namespace: default}
spec:
  containers: [{name: app, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
`);
    const pod = await k.waitForObject<Pod>('pod', 'app', (p) => !!p.spec.nodeName, {
      namespace: 'default',
      timeoutMs: 60_000,
    });
    const node = pod.spec.nodeName!;
    const va = await waitFor(
      `the storage VolumeAttachment of ${pvName} on ${node} to be attached`,
      async () => {
        const vas = await k.list<StorageVa>('volumeattachments.storage.k8s.io');
        return vas.find((v) => v.spec.source.persistentVolumeName === pvName && v.status?.attached);
      },
      { timeoutMs: 120_000, maxIntervalMs: 500 },
    );
    expect(va.spec.nodeName).toBe(node);
    const kubeletDir = cluster.node(node).dataDir;
    const vol: KubeletVolume = {
      driverName: CSI_DRIVER_NAME,
      pvName,
      volumeHandle: pvName,
      podUid: String(pod.metadata.uid),
      accessType: 'mount',
      fsType: pv.spec.csi?.fsType ?? 'ext4',
      volumeContext: {
        ...(pv.spec.csi?.volumeAttributes ?? {}),
        'csi.storage.k8s.io/pod.name': 'app',
        'csi.storage.k8s.io/pod.namespace': 'default',
        'csi.storage.k8s.io/pod.uid': String(pod.metadata.uid),
        'csi.storage.k8s.io/ephemeral': 'false',
      },
      publishContext: va.status?.attachmentMetadata ?? {},
    };
    const nodeClient = client(node) as unknown as CsiNodeClient;
    const mounted = await kubeletMountVolume(nodeClient, kubeletDir, vol);
    figures.push(`Pod created → file system mounted ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const text = `written through the mount of ${pvName} at ${new Date().toISOString()}\n`;
    await writeFile(join(mounted.targetPath, 'hello.txt'), text);
    expect(await readFile(join(mounted.targetPath, 'hello.txt'), 'utf8')).toBe(text);
    const mount = (await readFile('/proc/self/mountinfo', 'utf8'))
      .split('\n')
      .find((l) => l.includes(` ${mounted.stagingTargetPath} `));
    expect(mount).toMatch(/ - ext4 \/dev\/loop\d+ /);
    const stats = await client(node).call('nodeGetVolumeStats', {
      volumeId: pvName,
      volumePath: mounted.targetPath,
    });
    expect(stats.usage.find((u: { unit: string }) => u.unit === 'BYTES').total).toBeGreaterThan(
      50 * 1024 * 1024,
    );

    // The node plugin restarted in between: a new process finds what the old one staged.
    const plugin = cluster.node(node).processes.find((p) => p.record().name === `${node}/csi-plugin`);
    await plugin!.kill();
    client(node).close();
    nodeClients.delete(node);
    await startCsiNodePlugin(cluster.node(node), k);
    expect(await readFile(join(mounted.targetPath, 'hello.txt'), 'utf8')).toBe(text);

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
    // (one operation per volume at a time; the sidecar retries), then gets its real answer.
    const backup = await k.waitForObject<KubeObject & { status?: { error?: { message?: string } } }>(
      'volumesnapshot',
      'backup',
      (s) => /FailedPrecondition/.test(s.status?.error?.message ?? ''),
      { namespace: 'default', timeoutMs: 90_000 },
    );
    expect(backup.status?.error?.message).toMatch(/FailedPrecondition.*backups are not available yet/);

    // Delete everything: snapshots, the pod (kubelet unmounts first), the claim.
    await k.run(['delete', 'volumesnapshot', '--all', '-n', 'default', '--wait=true', '--timeout=120s']);
    await kubeletUnmountVolume(client(node) as unknown as CsiNodeClient, kubeletDir, vol);
    await k.run(['delete', 'pod', 'app', '-n', 'default', '--wait=false']);
    await waitFor(
      'the storage VolumeAttachment to go',
      async () =>
        (await k.list<StorageVa>('volumeattachments.storage.k8s.io')).every(
          (v) => v.spec.source.persistentVolumeName !== pvName,
        ),
      { timeoutMs: 120_000, maxIntervalMs: 500 },
    );
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
    expect(nbdfuseMentioning(dir)).toEqual([]);
    for (const n of cluster.nodes)
      expect(readdirSync(join(n.dataDir, 'replicas')).filter((r) => r.includes(pvName))).toEqual([]);
  }, 600_000);

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
    ).toMatch(/^FAILED_PRECONDITION: snapshot type "bak": backups are not available yet/);
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
});
