import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CSI_DRIVER_NAME } from '@longhorn-ts/api';
import { CsiCallError, CsiClient } from '@longhorn-ts/csi';
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
import { csiAvailable, nodePluginSocket, startCsiNodePlugin } from '../src/harness/longhorn-csi.js';
import { LH } from '../src/harness/longhorn-volumes.js';
import { waitFor } from '../src/harness/wait.js';

const skip = process.env.LONGHORN_TS_SKIP_K8S === '1' || !csiAvailable();
const MiB = 1024 * 1024;

interface Pvc extends KubeObject {
  spec: { volumeName?: string };
  status?: { phase?: string; conditions?: { type: string }[]; capacity?: { storage?: string } };
}
interface Pv extends KubeObject {
  spec: { capacity?: { storage?: string }; csi?: { volumeAttributes?: Record<string, string> } };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const pvcYaml = (name: string, size: string, storageClass: string) => `apiVersion: v1
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
  const line = (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .find((l) => l.split(' ')[4] === target);
  return line?.split(' - ')[1]?.split(' ')[1];
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

/** Running (non-zombie) lh-nbdfuse or nbdfuse processes whose command line mentions `text`. */
function fuseHelpersMentioning(text: string): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        return /^(\S*\/)?(lh-)?nbdfuse\0/.test(cmd) && cmd.includes(text);
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

/**
 * Online expansion on the real control plane: a PVC whose file system is mounted is resized by
 * patching its request; the real external-resizer calls ControllerExpandVolume (the attached
 * engine grows), then NodeExpandVolume is called as kubelet calls it. No Pod (a kubelet stand-in
 * would mount it as well): the volume is published to the node through the CSI controller and
 * mounted by the kubelet helpers for a made-up pod uid.
 */
describe.skipIf(skip)('CSI online expansion: a mounted PVC resized through the external-resizer', () => {
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
    await stopAbandonedClusters(tmpdir(), 'lh-e2e-csi-grow-');
    dir = await mkdtemp(join(tmpdir(), 'lh-e2e-csi-grow-'));
    cluster = await Cluster.start({ dir, nodes: 3, longhorn: true, timeoutMs: 180_000 });
    controller = new CsiClient(`unix://${join(dir, 'run', 'csi', 'controller.sock')}`);
  }, 240_000);

  afterAll(async () => {
    controller?.close();
    for (const c of nodeClients.values()) c.close();
    if (figures.length > 0) process.stdout.write(`[csi-expansion.test] ${figures.join('; ')}\n`);
    await cluster?.stop();
  }, 60_000);

  const dumpLogsOnFailure = () =>
    onTestFailed(async () => {
      process.stderr.write(`${await cluster.logTails(40)}\n`);
    });

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
    await k.apply(pvcYaml(o.claim, o.from, o.storageClass));
    const pvc = await k.waitForObject<Pvc>('pvc', o.claim, (p) => p.status?.phase === 'Bound', {
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
      await k.waitForObject<Pv>('pv', pvName, (p) => quantityBytes(p.spec.capacity?.storage) === toBytes, {
        timeoutMs: 120_000,
      });
      const claim = await k.waitForObject<Pvc>(
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
        expect(sha(await readFile(join(mounted.targetPath, 'old.bin')))).toBe(sha(old));
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
      expect(sha(await readFile(join(mounted.targetPath, 'old.bin')))).toBe(sha(old));
      // More than the old size held, so it lands past the old end.
      expect(o.oldMiB + o.newMiB).toBeGreaterThan(fromBytes / MiB);
      const fresh = randomBytes(o.newMiB * MiB);
      await writeFile(join(mounted.targetPath, 'new.bin'), fresh);
      execFileSync('sync');
      await writeFile('/proc/sys/vm/drop_caches', '3');
      expect(sha(await readFile(join(mounted.targetPath, 'new.bin')))).toBe(sha(fresh));
      expect(sha(await readFile(join(mounted.targetPath, 'old.bin')))).toBe(sha(old));
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
    expect(fuseHelpersMentioning(dir)).toEqual([]);
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
    const pvc = await k.waitForObject<Pvc>('pvc', 'grow-block', (p) => p.status?.phase === 'Bound', {
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
      await k.waitForObject<Pv>('pv', pvName, (p) => quantityBytes(p.spec.capacity?.storage) === 128 * MiB, {
        timeoutMs: 120_000,
      });
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
      expect(sha(read(63))).toBe(sha(tail));
      expect(sha(read(127))).toBe(sha(past));
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
    expect(fuseHelpersMentioning(dir)).toEqual([]);
  }, 600_000);
});
