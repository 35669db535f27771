import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClusterPki, issueCertificate } from '../src/harness/certificates.js';
import { stopAbandonedClusters, stopClusterInDir } from '../src/harness/cluster.js';
import { readClusterState, writeClusterState } from '../src/harness/cluster-state.js';
import {
  fuseHelpersUnder,
  loopDevicesUnder,
  mountsUnder,
  releaseHostResources,
} from '../src/harness/host-cleanup.js';
import { groupAlive, ManagedProcess } from '../src/harness/managed-process.js';
import { defaultNodeSpecs, nodeManifest, ZONE_LABEL } from '../src/harness/node-specs.js';
import { freePorts } from '../src/harness/ports.js';
import { SimulatedNode } from '../src/harness/simulated-node.js';
import { TimeoutError, waitFor } from '../src/harness/wait.js';

const run = promisify(execFile);
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lh-harness-unit-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('node specs', () => {
  it('spreads nodes over zones round-robin at 127.0.0.x', () => {
    expect(defaultNodeSpecs(4)).toEqual([
      { name: 'node-1', address: '127.0.0.11', zone: 'zone-a', region: 'region-1' },
      { name: 'node-2', address: '127.0.0.12', zone: 'zone-b', region: 'region-1' },
      { name: 'node-3', address: '127.0.0.13', zone: 'zone-c', region: 'region-1' },
      { name: 'node-4', address: '127.0.0.14', zone: 'zone-a', region: 'region-1' },
    ]);
    expect(() => defaultNodeSpecs(0)).toThrow(RangeError);
  });

  it('makes a Node object kwok manages, labelled with its zone', () => {
    const node = nodeManifest(defaultNodeSpecs(1)[0]!) as {
      metadata: { annotations: Record<string, string>; labels: Record<string, string> };
    };
    expect(node.metadata.annotations['kwok.x-k8s.io/node']).toBe('fake');
    expect(node.metadata.labels[ZONE_LABEL]).toBe('zone-a');
  });
});

describe('waitFor', () => {
  it('returns the first truthy probe result', async () => {
    let n = 0;
    await expect(waitFor('n to reach 3', () => (++n >= 3 ? n : undefined))).resolves.toBe(3);
  });

  it('times out with the last error', async () => {
    const err = await waitFor(
      'never',
      () => {
        throw new Error('still down');
      },
      { timeoutMs: 100 },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/never.*still down/);
  });

  it('stops at once on a fatal error', async () => {
    const t0 = Date.now();
    await expect(
      waitFor(
        'x',
        () => {
          throw new RangeError('dead');
        },
        { timeoutMs: 10_000, isFatal: (e) => e instanceof RangeError },
      ),
    ).rejects.toThrow('dead');
    expect(Date.now() - t0).toBeLessThan(1_000);
  });
});

describe('ports', () => {
  it('hands out distinct free ports', async () => {
    const ports = await freePorts(20);
    expect(new Set(ports).size).toBe(20);
  });
});

describe('managed processes', () => {
  it('stops a whole process group, children included', async () => {
    const proc = ManagedProcess.start({
      name: 'tree',
      command: 'sh',
      args: ['-c', 'sleep 600 & sleep 600 & wait'],
      logFile: join(dir, 'tree.log'),
    });
    await waitFor('the group to exist', () => groupAlive(proc.pid));
    await proc.stop(5_000);
    expect(groupAlive(proc.pid)).toBe(false);
    expect(proc.running).toBe(false);
  });

  it('SIGKILLs what ignores SIGTERM after the grace period', async () => {
    const proc = ManagedProcess.start({
      name: 'stubborn',
      command: 'sh',
      args: ['-c', 'trap "" TERM; echo ready; while :; do sleep 1; done'],
      logFile: join(dir, 'stubborn.log'),
    });
    await waitFor('ready', async () => (await readFile(join(dir, 'stubborn.log'), 'utf8')).includes('ready'));
    const t0 = Date.now();
    await proc.stop(300);
    expect(groupAlive(proc.pid)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('refuses a command that cannot be started', () => {
    expect(() =>
      ManagedProcess.start({
        name: 'nope',
        command: join(dir, 'no-such-binary'),
        args: [],
        logFile: join(dir, 'nope.log'),
      }),
    ).toThrow(/nope: cannot start/);
  });
});

describe('simulated node', () => {
  it('gives its processes the node identity and kills them all', async () => {
    const [spec] = defaultNodeSpecs(1);
    const node = new SimulatedNode({
      spec: spec!,
      dataDir: join(dir, 'nodes', 'node-1'),
      logDir: join(dir, 'logs'),
      kubeconfig: join(dir, 'kubeconfig'),
    });
    const proc = await node.start({
      name: 'env',
      command: 'sh',
      args: ['-c', 'echo "$NODE_NAME $NODE_IP $NODE_ZONE $PWD"; sleep 600'],
    });
    const log = join(dir, 'logs', 'node-1-env.log');
    const line = await waitFor(
      'the env line',
      async () => (await readFile(log, 'utf8').catch(() => '')).trim() || undefined,
    );
    expect(line).toBe(`node-1 127.0.0.11 zone-a ${join(dir, 'nodes', 'node-1')}`);
    expect(proc.name).toBe('node-1/env');
    await node.kill();
    expect(groupAlive(proc.pid)).toBe(false);
  });
});

describe('stopClusterInDir', () => {
  it('stops every recorded process group and removes the state', async () => {
    const cdir = join(dir, 'cluster');
    const procs = ['etcd', 'node-1/replica'].map((name) =>
      ManagedProcess.start({
        name,
        command: 'sleep',
        args: ['600'],
        logFile: join(cdir, `${name.replace('/', '-')}.log`),
      }),
    );
    await writeClusterState({
      dir: cdir,
      kubeconfig: join(cdir, 'kubeconfig'),
      apiServer: 'https://127.0.0.1:1',
      ownerPid: null,
      ready: true,
      startedAt: new Date().toISOString(),
      nodes: [],
      ports: {},
      processes: procs.map((p) => p.record()),
    });
    const stopped = await stopClusterInDir(cdir);
    expect(stopped.map((r) => r.name)).toEqual(['etcd', 'node-1/replica']);
    expect(procs.some((p) => groupAlive(p.pid))).toBe(false);
    expect(await readClusterState(cdir)).toBeUndefined();
    await expect(stopClusterInDir(cdir)).resolves.toEqual([]);
  });
});

describe('host cleanup', () => {
  it('finds no mounts under a fresh directory', async () => {
    expect(await mountsUnder(dir)).toEqual([]);
    expect(await mountsUnder('/')).toContain('/');
  });
});

describe('certificates', () => {
  it('issues a CA, a serving cert for loopback and an admin cert in system:masters', async () => {
    const pki = await createClusterPki(join(dir, 'pki'));
    const ca = new X509Certificate(await readFile(pki.caCert));
    const serving = new X509Certificate(await readFile(pki.servingCert));
    const admin = new X509Certificate(await readFile(pki.adminCert));
    expect(ca.ca).toBe(true);
    expect(serving.verify(ca.publicKey)).toBe(true);
    expect(serving.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(serving.checkHost('localhost')).toBe('localhost');
    expect(admin.subject).toMatch(/O=system:masters/);
    expect(admin.verify(ca.publicKey)).toBe(true);
    expect(ca.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const hook = await issueCertificate(
      pki,
      pki.dir,
      'webhook',
      { commonName: 'webhook' },
      {
        usage: 'server',
        altNames: ['127.0.0.1'],
      },
    );
    expect(new X509Certificate(await readFile(hook.cert)).checkIP('127.0.0.1')).toBe('127.0.0.1');
  });
});

describe('stopAbandonedClusters', () => {
  it('stops a cluster whose owner process is gone, and leaves owned ones alone', async () => {
    const parent = join(dir, 'abandoned');
    const make = async (name: string, ownerPid: number) => {
      const cdir = join(parent, name);
      const proc = ManagedProcess.start({
        name: 'etcd',
        command: 'sleep',
        args: ['600'],
        logFile: join(cdir, 'etcd.log'),
      });
      await writeClusterState({
        dir: cdir,
        kubeconfig: '',
        apiServer: '',
        ownerPid,
        ready: true,
        startedAt: '',
        nodes: [],
        ports: {},
        processes: [proc.record()],
      });
      return proc;
    };
    // A pid that no longer exists: a finished child's.
    const gone = ManagedProcess.start({ name: 'x', command: 'true', args: [], logFile: join(dir, 'x.log') });
    await gone.exited;
    const orphan = await make('lh-e2e-a', gone.pid);
    const owned = await make('lh-e2e-b', process.pid);
    expect(await stopAbandonedClusters(parent, 'lh-e2e-')).toEqual([join(parent, 'lh-e2e-a')]);
    expect(groupAlive(orphan.pid)).toBe(false);
    expect(groupAlive(owned.pid)).toBe(true);
    await owned.kill();
  });
});

describe('releaseHostResources', () => {
  const canLoop = process.getuid?.() === 0 && existsSync('/dev/loop-control');

  it.skipIf(!canLoop)('unmounts and detaches the loop devices under a directory', async () => {
    const root = join(dir, 'host');
    const image = join(root, 'disk.img');
    const mnt = join(root, 'mnt');
    await mkdir(mnt, { recursive: true });
    await run('truncate', ['-s', '16M', image]);
    await run('mkfs.ext4', ['-q', image]);
    const { stdout } = await run('losetup', ['--find', '--show', image]);
    const device = stdout.trim();
    try {
      await run('mount', [device, mnt]);
      expect(await mountsUnder(root)).toEqual([mnt]);
      expect(await loopDevicesUnder(root)).toEqual([device]);
      expect(await releaseHostResources(root)).toEqual([]);
      expect(await mountsUnder(root)).toEqual([]);
      expect(await loopDevicesUnder(root)).toEqual([]);
    } finally {
      await run('umount', [mnt]).catch(() => undefined);
      await run('losetup', ['-d', device]).catch(() => undefined);
    }
  });

  const canFuse = process.getuid?.() === 0 && existsSync('/dev/fuse') && existsSync('/usr/bin/nbdfuse');

  /** nbdfuse serving `fuse`/nbd from an nbdkit memory disk of `size`, detached as the CSI node plugin starts it. */
  async function startNbdfuse(root: string, fuse: string, size: string): Promise<ManagedProcess> {
    await mkdir(fuse, { recursive: true });
    return ManagedProcess.start({
      name: 'nbdfuse',
      command: 'nbdfuse',
      args: ['-P', join(root, 'nbdfuse.pid'), fuse, '[', 'nbdkit', 'memory', size, ']'],
      logFile: join(root, 'nbdfuse.log'),
    });
  }

  it.skipIf(!canFuse)(
    'stops the nbdfuse helpers serving files under a directory (a cluster stopped with volumes mounted)',
    async () => {
      const root = join(dir, 'fuse-host');
      const fuse = join(root, 'fuse');
      const helper = await startNbdfuse(root, fuse, '1M');
      try {
        await waitFor('nbdfuse to serve its file', async () => (await mountsUnder(root)).length === 1, {
          timeoutMs: 10_000,
        });
        expect(await fuseHelpersUnder(root)).toEqual([helper.pid]);
        expect(await fuseHelpersUnder(join(dir, 'elsewhere'))).toEqual([]);
        expect(await releaseHostResources(root)).toEqual([]);
        expect(await mountsUnder(root)).toEqual([]);
        expect(await fuseHelpersUnder(root)).toEqual([]);
      } finally {
        await helper.kill();
        await run('fusermount3', ['-u', fuse]).catch(() => undefined);
      }
    },
  );

  it.skipIf(!canFuse || !canLoop)(
    'releases a mounted loop device over a FUSE-served file (as the CSI node attaches a volume)',
    async () => {
      const root = join(dir, 'fuse-loop');
      const fuse = join(root, 'fuse');
      const mnt = join(root, 'mnt');
      await mkdir(mnt, { recursive: true });
      const helper = await startNbdfuse(root, fuse, '16M');
      const file = join(fuse, 'nbd');
      let device = '';
      const backedByOurs = async () =>
        JSON.parse((await run('losetup', ['--list', '--json'])).stdout || '{}').loopdevices?.filter(
          (d: { name: string }) => d.name === device,
        ) ?? [];
      try {
        await waitFor('nbdfuse to serve its file', async () => existsSync(file), { timeoutMs: 10_000 });
        await run('mkfs.ext4', ['-q', file]);
        device = (await run('losetup', ['--find', '--show', file])).stdout.trim();
        await run('mount', [device, mnt]);
        expect(await loopDevicesUnder(root)).toEqual([device]);
        expect(await releaseHostResources(root)).toEqual([]);
        expect(await mountsUnder(root)).toEqual([]);
        // The loop device is gone, not left naming "/nbd" (its FUSE mount lazily detached).
        await waitFor('the loop device to be released', async () => (await backedByOurs()).length === 0, {
          timeoutMs: 10_000,
        });
      } finally {
        await run('umount', [mnt]).catch(() => undefined);
        if (device) await run('losetup', ['-d', device]).catch(() => undefined);
        await helper.kill();
        await run('fusermount3', ['-u', '-z', fuse]).catch(() => undefined);
      }
    },
  );
});
