/**
 * `kubectl longhorn ...` on a real control plane with longhorn-ts on 3 nodes: the built plugin
 * found by the real kubectl on PATH (plugins/kubectl-longhorn/bin), its output and its effects,
 * checked with kubectl. One shared cluster, stopped after, also on failure.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  type Backup,
  type BackupTarget,
  CRYPTO_SECRET_ANNOTATION,
  DATA_KEY_ROTATION_BANDWIDTH_ANNOTATION,
  type Engine,
  KEK_ROTATION_INTERVAL_ANNOTATION,
  KEK_ROTATION_REQUEST_ANNOTATION,
  KEK_ROTATION_RESULT_ANNOTATION,
  type Node as LonghornNode,
  NAMESPACE,
  parseRotationResult,
  type Replica,
  type Setting,
  type Volume,
  type VolumeAttachment,
} from '@longhorn-ts/api';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { binaryPath } from '../src/harness/binaries.js';
import { Cluster, stopAbandonedClusters } from '../src/harness/cluster.js';
import { cryptoSecretYaml } from '../src/harness/crypto-secret.js';
import { listDataPlaneProcesses } from '../src/harness/longhorn-system.js';
import {
  apiTicketId,
  attachByTicket,
  isAttachedHealthy,
  LH,
  removeTicket,
  volumeYaml,
  waitForEndpoint,
  waitForVolume,
} from '../src/harness/longhorn-volumes.js';
import { MinioServer } from '../src/harness/minio.js';
import { waitFor } from '../src/harness/wait.js';

const skip = process.env.LONGHORN_TS_SKIP_K8S === '1';
const PLUGIN_BIN = fileURLToPath(new URL('../../plugins/kubectl-longhorn/bin', import.meta.url));
const VOL = 'vol-plugin';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

describe.skipIf(skip)('kubectl longhorn on 3 nodes', () => {
  let dir: string;
  let cluster: Cluster;
  let env: NodeJS.ProcessEnv;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    if (!existsSync(join(PLUGIN_BIN, '..', 'dist', 'main.js'))) {
      throw new Error('plugins/kubectl-longhorn is not built: run npx tsc -b');
    }
    await stopAbandonedClusters(tmpdir(), 'lh-e2e-plugin-');
    dir = await mkdtemp(join(tmpdir(), 'lh-e2e-plugin-'));
    cluster = await Cluster.start({ dir, nodes: 3, longhorn: true, timeoutMs: 150_000 });
    // kubectl's own resolution: KUBECONFIG, no flag; the plugin's directory first on PATH.
    env = {
      ...process.env,
      KUBECONFIG: cluster.kubeconfig,
      PATH: [PLUGIN_BIN, dirname(binaryPath('kubectl')), process.env.PATH ?? ''].join(':'),
    };
  }, 180_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function dumpLogsOnFailure(): void {
    onTestFailed(async () => {
      process.stderr.write(`${await cluster.logTails(30)}\n`);
    });
  }

  /** `kubectl longhorn ARGS` through the real kubectl. */
  function kl(args: string[], extraEnv: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): Promise<Result> {
    return new Promise((resolve) => {
      execFile(
        binaryPath('kubectl'),
        ['longhorn', ...args],
        { env: { ...env, ...extraEnv }, timeout: timeoutMs },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  async function ok(args: string[]): Promise<string> {
    const r = await kl(args);
    expect(r.code, `kubectl longhorn ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  }

  const kubectl = () => cluster.kubectl;

  it('kubectl finds the plugin on PATH', async () => {
    const r = await new Promise<string>((resolve) => {
      execFile(binaryPath('kubectl'), ['plugin', 'list'], { env }, (_e, stdout) => resolve(stdout));
    });
    expect(r).toContain(join(PLUGIN_BIN, 'kubectl-longhorn'));
    expect(await ok(['--help'])).toContain('volume');
  });

  it('node list: 3 nodes in 3 zones, ready, with their disks and space', async () => {
    dumpLogsOnFailure();
    const out = await ok(['node', 'list']);
    const lines = out.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+READY\s+SCHEDULABLE\s+SCHEDULING\s+ZONE/);
    for (const [i, zone] of ['zone-a', 'zone-b', 'zone-c'].entries()) {
      expect(lines[i + 1]).toMatch(new RegExp(`^node-${i + 1}\\s+True\\s+True\\s+enabled\\s+${zone}\\s`));
    }
    const wide = await ok(['node', 'list', '-o', 'wide', '--kubeconfig', cluster.kubeconfig]);
    for (const n of ['node-1', 'node-2', 'node-3']) expect(wide).toContain(cluster.node(n).dataDir);
    const names = await ok(['node', 'list', '-o', 'name']);
    expect(names.trim().split('\n')).toEqual(
      ['node-1', 'node-2', 'node-3'].map((n) => `node.longhorn.io/${n}`),
    );
  });

  it('setting get/set: the value changes; an invalid one is refused before it is sent', async () => {
    dumpLogsOnFailure();
    expect(await ok(['setting', 'get', 'default-replica-count'])).toBe('3\n');
    expect(await ok(['setting', 'set', 'default-replica-count', '2'])).toContain('set to "2"');
    const s = await kubectl().get<Setting>(LH.settings, 'default-replica-count', NAMESPACE);
    expect(s.value).toBe('2');
    const bad = await kl(['setting', 'set', 'default-replica-count', '21']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      'error: setting default-replica-count: 21 is above the maximum 20; use an integer from 1 to 20\n',
    );
    const typo = await kl(['setting', 'set', 'default-replica-cont', '2']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('did you mean "default-replica-count"?');
    expect((await kubectl().get<Setting>(LH.settings, 'default-replica-count', NAMESPACE)).value).toBe('2');
    await ok(['setting', 'set', 'default-replica-count', '3']);
    await waitFor('the operator to apply it', async () =>
      /default-replica-count\s+3\s+3\s+true/.test(await ok(['setting', 'list'])),
    );
  });

  describe('one volume through the plugin', () => {
    it('volume create: a Volume CR with 3 scheduled replicas; list and a --watch see it', async () => {
      dumpLogsOnFailure();
      const watcher = spawn(binaryPath('kubectl'), ['longhorn', 'volume', 'list', '--watch'], { env });
      children.push(watcher);
      let watched = '';
      watcher.stdout.on('data', (d: Buffer) => {
        watched += d.toString();
      });
      const out = await ok([
        'volume',
        'create',
        VOL,
        '--size',
        '64Mi',
        '--replicas',
        '3',
        '--data-locality',
        'disabled',
      ]);
      expect(out).toBe(`volume.longhorn.io/${VOL} created\n`);
      const v = await kubectl().get<Volume>(LH.volumes, VOL, NAMESPACE);
      expect(v.spec.size).toBe(String(64 << 20));
      expect(v.spec.numberOfReplicas).toBe(3);
      expect(v.status?.state).toBe('detached');
      const list = await ok(['volume', 'list']);
      expect(list).toMatch(new RegExp(`${VOL}\\s+detached\\s+\\S+\\s+True\\s+64 MiB\\s+-`));
      expect(await ok(['volume', 'list', '-o', 'name'])).toBe(`volume.longhorn.io/${VOL}\n`);
      const json = JSON.parse(await ok(['volume', 'list', '-o', 'json'])) as { items: Volume[] };
      expect(json.items.map((x) => x.metadata.name)).toEqual([VOL]);
      await waitFor('the watch to print the volume', async () => watched.includes(VOL), {
        timeoutMs: 20_000,
      });
      watcher.kill('SIGTERM');
      const code = await new Promise<number | null>((resolve) => watcher.once('exit', (c) => resolve(c)));
      expect(code).toBe(0);
      expect(watched).toMatch(/^NAME\s+STATE/);
    });

    it('volume attach: a longhorn-api ticket; get shows the engine and 3 healthy RW replicas in 3 zones', async () => {
      dumpLogsOnFailure();
      const out = await ok(['volume', 'attach', VOL, '--node', 'node-1']);
      expect(out).toContain(`volume.longhorn.io/${VOL} attached to node-1`);
      const va = await kubectl().get<VolumeAttachment>(LH.attachments, VOL, NAMESPACE);
      expect(va.spec.attachmentTickets?.[`longhorn-api-${VOL}`]).toMatchObject({
        type: 'longhorn-api',
        nodeID: 'node-1',
      });
      await waitFor(
        'three RW replicas',
        async () => {
          const get = await ok(['volume', 'get', VOL]);
          return (get.match(/\sRW\s+healthy/g) ?? []).length === 3;
        },
        { timeoutMs: 60_000 },
      );
      const get = await ok(['volume', 'get', VOL]);
      expect(get).toMatch(/State:\s+attached/);
      expect(get).toMatch(/Robustness:\s+healthy/);
      expect(get).toMatch(/Endpoint:\s+nbd:\/\/127\.0\.0\.11:\d+/);
      for (const [n, zone] of [
        ['node-1', 'zone-a'],
        ['node-2', 'zone-b'],
        ['node-3', 'zone-c'],
      ]) {
        expect(get).toMatch(
          new RegExp(`${VOL}-r-\\w+\\s+${n}\\s+${zone}\\s+\\S+\\s+running\\s+RW\\s+healthy`),
        );
      }
      expect(get).toMatch(new RegExp(`longhorn-api-${VOL}\\s+longhorn-api\\s+node-1\\s+enabled\\s+true`));
      expect(get).toMatch(/Attached\s+volume\/vol-plugin/);
      const yaml = await ok(['volume', 'get', VOL, '-o', 'yaml']);
      expect(yaml).toContain(`name: ${VOL}`);
      expect(yaml).toContain('currentNodeID: node-1');
    });

    it('snapshot create/list/delete: a tree with sizes; revert is refused while the frontend is up', async () => {
      dumpLogsOnFailure();
      expect(await ok(['snapshot', 'create', VOL, '--name', 'snap-1'])).toBe(
        'snapshot.longhorn.io/snap-1 created\n',
      );
      expect(await ok(['snapshot', 'create', VOL, '--name', 'snap-2'])).toBe(
        'snapshot.longhorn.io/snap-2 created\n',
      );
      const tree = (await ok(['snapshot', 'list', VOL])).trimEnd().split('\n');
      expect(tree).toHaveLength(3);
      expect(tree[0]).toMatch(/^snap-1 {2}\d+(\.\d)? [KMGT]?i?B {2}\d+s {2}\(user\)$/);
      expect(tree[1]).toMatch(/^└── snap-2 {2}\d+(\.\d)? [KMGT]?i?B {2}\d+s {2}\(user\)$/);
      expect(tree[2]).toBe('    └── volume-head');
      const json = JSON.parse(await ok(['snapshot', 'list', VOL, '-o', 'json'])) as {
        items: { metadata: { name: string } }[];
      };
      expect(json.items.map((s) => s.metadata.name).sort()).toEqual(['snap-1', 'snap-2']);
      expect(await ok(['volume', 'get', VOL])).toContain('└── snap-2');

      const revert = await kl(['snapshot', 'revert', VOL, 'snap-1']);
      expect(revert.code).toBe(1);
      expect(revert.stderr).toMatch(
        /^error: volume vol-plugin is attached to node-1 with its frontend: .*--no-frontend/,
      );
      expect(revert.stderr.trim().split('\n')).toHaveLength(1);

      expect(await ok(['snapshot', 'delete', VOL, 'snap-1'])).toBe('snapshot.longhorn.io/snap-1 deleted\n');
      expect(await kubectl().tryGet(LH.snapshots, 'snap-1', NAMESPACE)).toBeUndefined();
      const after = await ok(['snapshot', 'list', VOL]);
      expect(after).not.toContain('snap-1');
      expect(after).toContain('snap-2');
      const missing = await kl(['snapshot', 'delete', VOL, 'snap-9']);
      expect(missing.code).toBe(3);
      expect(missing.stderr).toBe('error: volume vol-plugin has no snapshot "snap-9"\n');
    });

    it('volume expand: online, progress lines, the engine serves the new size', async () => {
      dumpLogsOnFailure();
      const out = await ok(['volume', 'expand', VOL, '--size', '128Mi']);
      expect(out).toContain(`expand ${VOL}: `);
      expect(out).toContain(`volume.longhorn.io/${VOL} expanded to 128 MiB`);
      const engines = await kubectl().list<Engine>(LH.engines, NAMESPACE);
      expect(engines.find((e) => e.spec.volumeName === VOL)?.status?.currentSize).toBe(String(128 << 20));
      const shrink = await kl(['volume', 'expand', VOL, '--size', '64Mi']);
      expect(shrink.code).toBe(1);
      expect(shrink.stderr).toBe('error: volume vol-plugin is 128 MiB; volumes only grow (asked 64 MiB)\n');
    });

    it('volume replica remove: refused for an unknown replica; with --wait-rebuild a new one is rebuilt', async () => {
      dumpLogsOnFailure();
      const unknown = await kl(['volume', 'replica', 'remove', VOL, 'no-such-replica']);
      expect(unknown.code).toBe(3);
      expect(unknown.stderr).toMatch(
        /^error: volume vol-plugin has no replica "no-such-replica"; its replicas: /,
      );
      const before = (await kubectl().list<Replica>(LH.replicas, NAMESPACE)).filter(
        (r) => r.spec.volumeName === VOL,
      );
      const victim = before.find((r) => r.spec.nodeID === 'node-3')!;
      const out = await ok(['volume', 'replica', 'remove', VOL, victim.metadata.name, '--wait-rebuild']);
      expect(out).toContain(`replica.longhorn.io/${victim.metadata.name} removed from volume ${VOL}`);
      expect(out).toContain(`volume ${VOL} is healthy`);
      const after = (await kubectl().list<Replica>(LH.replicas, NAMESPACE)).filter(
        (r) => r.spec.volumeName === VOL,
      );
      expect(after.map((r) => r.metadata.name)).not.toContain(victim.metadata.name);
      expect(after).toHaveLength(3);
      expect((await kubectl().get<Volume>(LH.volumes, VOL, NAMESPACE)).status?.robustness).toBe('healthy');
    });

    it('doctor: the system and the volume are healthy', async () => {
      dumpLogsOnFailure();
      const sys = await ok(['doctor']);
      expect(sys).toContain('OK    nodes: 3/3 ready, 3 schedulable');
      expect(sys).toMatch(/volumes: 1 volume\(s\): 1 healthy/);
      const one = await ok(['doctor', VOL]);
      expect(one).toContain(`OK    volume/${VOL}: attached, healthy, attached to node-1; 3/3 replicas`);
      const findings = JSON.parse(await ok(['doctor', '-o', 'json'])) as { items: { subject: string }[] };
      expect(findings.items.map((f) => f.subject)).toContain('nodes');
    });

    it('support-bundle: CRs, Kubernetes objects, events and logs in one tar.gz', async () => {
      dumpLogsOnFailure();
      const file = join(dir, 'bundle.tar.gz');
      const out = await ok(['support-bundle', '--file', file, '--log-dir', join(dir, 'logs')]);
      expect(out).toMatch(/^support bundle written to .*bundle\.tar\.gz \(/);
      const listing = await new Promise<string>((resolve, reject) =>
        execFile('tar', ['tzf', file], (e, stdout) => (e ? reject(e) : resolve(stdout))),
      );
      const paths = listing
        .trim()
        .split('\n')
        .map((p) => p.slice(p.indexOf('/') + 1));
      for (const p of [
        'longhorn/volumes.yaml',
        'longhorn/engines.yaml',
        'longhorn/replicas.yaml',
        'longhorn/snapshots.yaml',
        'longhorn/nodes.yaml',
        'longhorn/settings.yaml',
        'longhorn/volumeattachments.yaml',
        'longhorn/instancemanagers.yaml',
        'kubernetes/persistentvolumes.yaml',
        'kubernetes/persistentvolumeclaims.yaml',
        'kubernetes/volumeattachments.storage.k8s.io.yaml',
        'events.yaml',
        'README.txt',
        'logs/0/node-1-operator.log',
        'logs/0/kube-apiserver.log',
      ]) {
        expect(paths).toContain(p);
      }
      const volumesYaml = await new Promise<string>((resolve, reject) =>
        execFile('tar', ['xzOf', file, '--wildcards', '*/longhorn/volumes.yaml'], (e, stdout) =>
          e ? reject(e) : resolve(stdout),
        ),
      );
      expect(volumesYaml).toContain(`name: ${VOL}`);
    });

    it('volume detach: the ticket goes, the volume detaches', async () => {
      dumpLogsOnFailure();
      expect(await ok(['volume', 'detach', VOL])).toBe(`volume.longhorn.io/${VOL} detached\n`);
      const va = await kubectl().get<VolumeAttachment>(LH.attachments, VOL, NAMESPACE);
      expect(va.spec.attachmentTickets?.[`longhorn-api-${VOL}`]).toBeUndefined();
      expect((await kubectl().get<Volume>(LH.volumes, VOL, NAMESPACE)).status?.state).toBe('detached');
      const again = await kl(['volume', 'detach', VOL]);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('is not attached by this plugin');
    });

    it('volume delete: the Volume, its replicas and engine are gone', async () => {
      dumpLogsOnFailure();
      expect(await ok(['volume', 'delete', VOL])).toBe(`volume.longhorn.io/${VOL} deleted\n`);
      expect(await kubectl().tryGet(LH.volumes, VOL, NAMESPACE)).toBeUndefined();
      await waitFor('its replicas to go', async () => {
        const rs = await kubectl().list<Replica>(LH.replicas, NAMESPACE);
        return rs.every((r) => r.spec.volumeName !== VOL);
      });
      const list = await kl(['volume', 'list']);
      expect(list.code).toBe(0);
      expect(list.stderr).toBe('No resources found in longhorn-system namespace.\n');
    });
  });

  it('node scheduling off/on and disk add/remove change the Node CR', async () => {
    dumpLogsOnFailure();
    expect(await ok(['node', 'scheduling', 'node-3', 'off'])).toBe(
      'node.longhorn.io/node-3 scheduling disabled\n',
    );
    const off = await kubectl().get<LonghornNode>(LH.nodes, 'node-3', NAMESPACE);
    expect(off.spec.allowScheduling).toBe(false);
    expect(await ok(['node', 'list'])).toMatch(/node-3\s+\S+\s+\S+\s+disabled\s+zone-c/);
    await ok(['node', 'scheduling', 'node-3', 'on']);
    expect((await kubectl().get<LonghornNode>(LH.nodes, 'node-3', NAMESPACE)).spec.allowScheduling).toBe(
      true,
    );

    const path = join(cluster.node('node-3').dataDir, 'extra-disk');
    await mkdir(path, { recursive: true });
    const add = await ok([
      'node',
      'disk',
      'add',
      'node-3',
      '--path',
      path,
      '--name',
      'extra',
      '--tag',
      'ssd',
      '--no-scheduling',
    ]);
    expect(add).toBe(`node.longhorn.io/node-3 disk extra added at ${path}\n`);
    const withDisk = await kubectl().get<LonghornNode>(LH.nodes, 'node-3', NAMESPACE);
    expect(withDisk.spec.disks?.extra).toMatchObject({ path, tags: ['ssd'], allowScheduling: false });
    const dup = await kl(['node', 'disk', 'add', 'node-3', '--path', path]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toBe(`error: node node-3 already has disk extra at ${path}\n`);
    expect(await ok(['node', 'disk', 'remove', 'node-3', 'extra'])).toBe(
      'node.longhorn.io/node-3 disk extra removed\n',
    );
    expect(
      (await kubectl().get<LonghornNode>(LH.nodes, 'node-3', NAMESPACE)).spec.disks?.extra,
    ).toBeUndefined();
  });

  it('missing objects and bad flags exit non-zero with one line', async () => {
    const cases: [string[], number, string][] = [
      [['volume', 'get', 'nope'], 3, 'error: Volume "nope" not found in namespace longhorn-system\n'],
      [
        ['volume', 'attach', 'nope', '--node', 'node-1'],
        3,
        'error: Volume "nope" not found in namespace longhorn-system\n',
      ],
      [['snapshot', 'list', 'nope'], 3, 'error: Volume "nope" not found in namespace longhorn-system\n'],
      [
        ['node', 'scheduling', 'node-9', 'off'],
        3,
        'error: Node "node-9" not found in namespace longhorn-system\n',
      ],
      [
        ['setting', 'get', 'no-such-setting'],
        3,
        'error: Setting "no-such-setting" not found in namespace longhorn-system\n',
      ],
      [
        ['volume', 'list', '-o', 'xml'],
        2,
        'error: Expected --output=xml to be one of: table, wide, json, yaml, name\n',
      ],
      [
        ['volume', 'create', 'x', '--size', '1Gi', '--replicas', '0'],
        2,
        'error: --replicas 0 is out of range; use 1 to 20\n',
      ],
      [
        ['volume', 'frobnicate'],
        2,
        'error: unknown command "volume frobnicate"; see kubectl longhorn --help\n',
      ],
      [['volume', 'list', '--context', 'nope'], 2, 'error: context "nope" not found in the kubeconfig\n'],
    ];
    const results = await Promise.all(cases.map(([args]) => kl(args)));
    expect(results.map((r, i) => ({ args: cases[i]?.[0], code: r.code, stderr: r.stderr }))).toEqual(
      cases.map(([args, code, stderr]) => ({ args, code, stderr })),
    );
    const dead = join(dir, 'dead.kubeconfig');
    await writeFile(
      dead,
      readFileSync(cluster.kubeconfig, 'utf8').replace(/https:\/\/127\.0\.0\.1:\d+/g, 'https://127.0.0.1:1'),
    );
    const r = await kl(['volume', 'list', '--kubeconfig', dead]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(
      /^error: cannot reach the Kubernetes API server at https:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\)/,
    );
  });

  it('encrypted volumes: volume get shows the keys; rotate-key rotates the KEK, then the data key with progress; refusals name the reason', async () => {
    dumpLogsOnFailure();
    const name = 'vol-enc';
    const plain = 'vol-plain-key';
    const secret = 'plugin-crypto';
    const t0 = Date.now();
    try {
      await kubectl().apply(cryptoSecretYaml(secret, 'a kubectl-plugin e2e passphrase'));
      await kubectl().apply(
        volumeYaml(name, {
          size: String(32 << 20),
          numberOfReplicas: 1,
          annotations: {
            [CRYPTO_SECRET_ANNOTATION]: `${NAMESPACE}/${secret}`,
            [KEK_ROTATION_INTERVAL_ANNOTATION]: '720h',
          },
          extra: { encrypted: true },
        }),
      );
      await kubectl().apply(volumeYaml(plain, { size: String(16 << 20), numberOfReplicas: 1 }));
      await attachByTicket(kubectl(), name, 'node-1');
      await waitForVolume(kubectl(), name, 'attached and healthy', isAttachedHealthy('node-1'), 90_000);

      const get = await ok(['volume', 'get', name]);
      const ids = /data key (dk-[0-9a-f]{16}) \(key-encryption key (kek-[0-9a-f]{16})/.exec(get) ?? [];
      expect(get).toContain(
        [
          'Encrypted:       yes',
          `  Crypto Secret:       ${NAMESPACE}/${secret} (named by annotation ${CRYPTO_SECRET_ANNOTATION})`,
          `  Keys:                engine runs with data key ${ids[1]} (key-encryption key ${ids[2]} from crypto Secret ${NAMESPACE}/${secret})`,
          '  KEK rotation:        every 720h',
          '  Last KEK rotation:   none yet',
          '  Data-key rotation:   none yet',
          '',
        ].join('\n'),
      );
      expect(get).not.toContain('  Key:');
      expect(await ok(['volume', 'get', plain])).toContain('\nEncrypted:       no\n');

      // A plain volume: refused before anything is written.
      const refused = await kl(['volume', 'rotate-key', plain]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toBe(
        `error: volume ${plain} is not encrypted: it has no key to rotate (spec.encrypted is set when a volume is created and never changes)\n`,
      );
      const untouched = await kubectl().get<Volume>(LH.volumes, plain, NAMESPACE);
      expect(untouched.metadata.annotations?.[KEK_ROTATION_REQUEST_ANNOTATION]).toBeUndefined();

      const t1 = Date.now();
      const kek = await kl(['volume', 'rotate-key', name]);
      expect(kek.code, kek.stderr).toBe(0);
      const k =
        /^volume\.longhorn\.io\/vol-enc: key-encryption key rotated from (kek-[0-9a-f]{16}) to (kek-[0-9a-f]{16}) \(data key re-wrapped, no data touched\)\n$/.exec(
          kek.stdout,
        );
      expect(k, kek.stdout).not.toBeNull();
      expect(k![1]).not.toBe(k![2]);
      const t2 = Date.now();
      const answered = await kubectl().get<Volume>(LH.volumes, name, NAMESPACE);
      expect(
        parseRotationResult(answered.metadata.annotations?.[KEK_ROTATION_RESULT_ANNOTATION]),
      ).toMatchObject({ from: k![1], to: k![2], error: '' });
      expect(await ok(['volume', 'get', name])).toMatch(
        new RegExp(`\n  Last KEK rotation:   ${k![1]} -> ${k![2]} \\d+s ago \\(on request\\)\n`),
      );

      // 32 MiB at 4 MiB/s: about 8 s, the condition written every 2 s.
      const dk = await kl(['volume', 'rotate-key', name, '--data-key', '--bandwidth', '4Mi'], {}, 120_000);
      expect(dk.code, dk.stderr).toBe(0);
      const d =
        /^volume\.longhorn\.io\/vol-enc: data key rotated from (dk-[0-9a-f]{16}) to (dk-[0-9a-f]{16}) \(every block re-encrypted at most 4 MiB\/s\)\n$/.exec(
          dk.stdout,
        );
      expect(d, dk.stdout).not.toBeNull();
      const progress = dk.stderr
        .split('\n')
        .filter((l) =>
          new RegExp(
            `^data-key rotation of ${name}: re-encrypting from data key ${d![1]} to ${d![2]} \\d+%$`,
          ).test(l),
        );
      expect(progress.length, dk.stderr).toBeGreaterThanOrEqual(2);
      expect(dk.stderr.endsWith(`data-key rotation of ${name}: done\n`), dk.stderr).toBe(true);
      const t3 = Date.now();
      const rotated = await kubectl().get<Volume>(LH.volumes, name, NAMESPACE);
      expect(rotated.metadata.annotations?.[DATA_KEY_ROTATION_BANDWIDTH_ANNOTATION]).toBe(String(4 << 20));
      expect(await ok(['volume', 'get', name])).toMatch(
        new RegExp(`\n  Data-key rotation:   last ${d![1]} -> ${d![2]} \\d+s ago\n`),
      );

      // Detached: the operator refuses a data-key rotation, and the command says so.
      await removeTicket(kubectl(), name, apiTicketId(name));
      await waitForVolume(kubectl(), name, 'detached', (v) => v.status?.state === 'detached', 60_000);
      const detached = await kl(['volume', 'rotate-key', name, '--data-key', '--timeout', '60']);
      expect(detached.code, detached.stderr).toBe(1);
      expect(detached.stderr).toMatch(
        new RegExp(
          `(?:^|\n)error: data-key rotation of volume ${name} failed: volume ${name} is not attached: attach it .*\n$`,
        ),
      );
      process.stdout.write(
        `[kubectl-plugin.test] encrypted volume: KEK rotation ${((t2 - t1) / 1000).toFixed(1)} s, data-key rotation of 32 MiB at 4 MiB/s ${((t3 - t2) / 1000).toFixed(1)} s (${progress.length} progress lines), all ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
      );
    } finally {
      await kl(['volume', 'detach', name]);
      await Promise.all([
        kl(['volume', 'delete', name, '--force']),
        kl(['volume', 'delete', plain, '--force']),
      ]);
      await kubectl().run(['delete', 'secret', secret, '-n', NAMESPACE, '--ignore-not-found']);
    }
  }, 180_000);

  describe('VolumeSnapshots, revert, eviction and salvage through the plugin', () => {
    const exec = promisify(execFile);
    const randomData = (n: number) => randomBytes(n);
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

    /** Writes `data` at offset 0 of the volume through its engine's NBD endpoint. */
    async function writeVolume(uri: string, data: Buffer): Promise<void> {
      const file = join(dir, `write-${Date.now()}.bin`);
      await writeFile(file, data);
      try {
        await exec('nbdcopy', [file, uri], { timeout: 120_000 });
      } finally {
        await rm(file, { force: true });
      }
    }

    /** The first `n` bytes of the volume through its engine's NBD endpoint. */
    async function readVolume(uri: string, n: number): Promise<Buffer> {
      const file = join(dir, `read-${Date.now()}.bin`);
      try {
        await exec('nbdcopy', [uri, file], { timeout: 120_000 });
        return (await readFile(file)).subarray(0, n);
      } finally {
        await rm(file, { force: true });
      }
    }

    async function createAttached(name: string, replicas: number): Promise<string> {
      await ok(['volume', 'create', name, '--size', '16Mi', '--replicas', String(replicas)]);
      await ok(['volume', 'attach', name, '--node', 'node-1']);
      await waitForVolume(kubectl(), name, 'attached and healthy', isAttachedHealthy('node-1'), 90_000);
      return waitForEndpoint(kubectl(), name);
    }

    async function deleteVolume(name: string): Promise<void> {
      await kl(['volume', 'detach', name]);
      await ok(['volume', 'delete', name]);
      await waitFor(`the replicas of ${name} to go`, async () =>
        (await kubectl().list<Replica>(LH.replicas, NAMESPACE)).every((r) => r.spec.volumeName !== name),
      );
    }

    it('snapshot create --pvc/--volume-snapshot makes VolumeSnapshots; list names them; delete goes through them', async () => {
      dumpLogsOnFailure();
      await kubectl().apply(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: vs-data, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: longhorn
  resources: {requests: {storage: 16Mi}}
`);
      const pvc = await kubectl().waitForObject<{
        spec: { volumeName?: string };
        status?: { phase?: string };
      }>('pvc', 'vs-data', (p) => p.status?.phase === 'Bound', { namespace: 'default', timeoutMs: 90_000 });
      const pv = pvc.spec.volumeName!;
      await waitForVolume(kubectl(), pv, 'detached', (v) => v.status?.state === 'detached', 60_000);

      // Cleaned up also on failure: a claim left behind would hold replicas on every node.
      try {
        const byPvc = await ok([
          'snapshot',
          'create',
          '--pvc',
          'default/vs-data',
          '--volume-snapshot',
          'vs-1',
        ]);
        const m =
          /^volumesnapshot\.snapshot\.storage\.k8s\.io\/vs-1 created in namespace default for PVC vs-data \(snapshot\.longhorn\.io\/(\S+) of volume (\S+)\)\n$/.exec(
            byPvc,
          );
        expect(m, byPvc).not.toBeNull();
        const snap1 = m![1]!;
        expect(m![2]).toBe(pv);
        const byVolume = await ok(['snapshot', 'create', pv, '--volume-snapshot', 'vs-2']);
        expect(byVolume).toMatch(
          /^volumesnapshot\.snapshot\.storage\.k8s\.io\/vs-2 created in namespace default for PVC vs-data/,
        );
        const vs2 = await kubectl().get<{
          status?: { readyToUse?: boolean; boundVolumeSnapshotContentName?: string };
        }>('volumesnapshot', 'vs-2', 'default');
        expect(vs2.status?.readyToUse).toBe(true);

        const tree = await ok(['snapshot', 'list', pv]);
        expect(tree).toMatch(
          new RegExp(`${snap1}  \\S+ \\S+  \\S+  \\(user\\)  VolumeSnapshot default/vs-1\\n`),
        );
        expect(tree).toContain('VolumeSnapshot default/vs-2');
        const wide = await ok(['snapshot', 'list', pv, '-o', 'wide']);
        expect(wide.split('\n')[0]).toMatch(/VOLUMESNAPSHOT$/);
        expect(wide).toMatch(new RegExp(`${snap1}\\s.*\\sdefault/vs-1\\n`));

        const refused = await kl(['snapshot', 'delete', pv, snap1]);
        expect(refused.code).toBe(1);
        expect(refused.stderr).toBe(
          `error: snapshot ${snap1} belongs to VolumeSnapshot default/vs-1: delete it through the VolumeSnapshot (kubectl delete volumesnapshot -n default vs-1, or add --volume-snapshot to this command)\n`,
        );
        expect(await kubectl().tryGet(LH.snapshots, snap1, NAMESPACE)).toBeDefined();
        expect(await ok(['snapshot', 'delete', pv, snap1, '--volume-snapshot'])).toBe(
          `snapshot.longhorn.io/${snap1} deleted with VolumeSnapshot default/vs-1\n`,
        );
        expect(await kubectl().tryGet('volumesnapshot', 'vs-1', 'default')).toBeUndefined();
        expect(await kubectl().tryGet(LH.snapshots, snap1, NAMESPACE)).toBeUndefined();

        const badClass = await kl([
          'snapshot',
          'create',
          pv,
          '--volume-snapshot',
          'vs-3',
          '--class',
          'longhorn-backup-vsc',
        ]);
        expect(badClass.code).toBe(2);
        expect(badClass.stderr).toBe(
          'error: VolumeSnapshotClass longhorn-backup-vsc makes backups (type bak), not snapshots; use a class with parameters.type snap\n',
        );
        const noClaim = await kl([
          'snapshot',
          'create',
          '--pvc',
          'default/nope',
          '--volume-snapshot',
          'vs-4',
        ]);
        expect(noClaim.code).toBe(3);
        expect(noClaim.stderr).toBe('error: PersistentVolumeClaim "nope" not found in namespace default\n');
      } finally {
        await kubectl().run([
          'delete',
          'volumesnapshot',
          '--all',
          '-n',
          'default',
          '--wait=true',
          '--timeout=120s',
        ]);
        await kubectl().run(['delete', 'pvc', 'vs-data', '-n', 'default', '--wait=true', '--timeout=120s']);
        await waitFor(
          `volume ${pv} and its replicas to go`,
          async () =>
            (await kubectl().tryGet(LH.volumes, pv, NAMESPACE)) === undefined &&
            (await kubectl().list<Replica>(LH.replicas, NAMESPACE)).every((r) => r.spec.volumeName !== pv),
          { timeoutMs: 120_000 },
        );
      }
    }, 300_000);

    it('snapshot revert: refused while attached with a frontend; a detached volume is reverted in maintenance mode and reads back the snapshot', async () => {
      dumpLogsOnFailure();
      const name = 'vol-revert';
      let uri = await createAttached(name, 2);
      const before = randomData(1 << 20);
      const after = randomData(1 << 20);
      await writeVolume(uri, before);
      await ok(['snapshot', 'create', name, '--name', 'rv-1']);
      await writeVolume(uri, after);
      await ok(['snapshot', 'create', name, '--name', 'rv-2']);
      expect(sha(await readVolume(uri, 1 << 20))).toBe(sha(after));

      const refused = await kl(['snapshot', 'revert', name, 'rv-1']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^error: volume vol-revert is attached to node-1 with its frontend: /);
      const missing = await kl(['snapshot', 'revert', name, 'rv-9']);
      expect(missing.code).toBe(3);
      expect(missing.stderr).toBe('error: volume vol-revert has no snapshot "rv-9"\n');

      await ok(['volume', 'detach', name]);
      const t0 = Date.now();
      const out = await ok(['snapshot', 'revert', name, 'rv-1']);
      process.stdout.write(
        `[kubectl-plugin.test] revert of a detached volume: ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
      );
      expect(out).toContain(`revert ${name}: attaching to `);
      expect(out).toContain(`volume.longhorn.io/${name} reverted to snapshot rv-1\n`);
      const detached = await kubectl().get<Volume>(LH.volumes, name, NAMESPACE);
      expect(detached.status?.state).toBe('detached');
      const va = await kubectl().get<VolumeAttachment>(LH.attachments, name, NAMESPACE);
      expect(Object.keys(va.spec.attachmentTickets ?? {})).toEqual([]);
      const engine = (await kubectl().list<Engine>(LH.engines, NAMESPACE)).find(
        (e) => e.spec.volumeName === name,
      )!;
      expect(
        JSON.parse(engine.metadata.annotations?.['longhorn-ts.io/snapshot-revert-result'] ?? '{}'),
      ).toMatchObject({
        snapshot: 'rv-1',
        error: '',
      });

      await ok(['volume', 'attach', name, '--node', 'node-1']);
      uri = await waitForEndpoint(kubectl(), name);
      expect(sha(await readVolume(uri, 1 << 20))).toBe(sha(before));
      // Snapshots newer than the target stay (Longhorn keeps them); the head now hangs under rv-1.
      const tree = await ok(['snapshot', 'list', name]);
      expect(tree).toContain('rv-2');
      await deleteVolume(name);
    }, 300_000);

    it('node evict: replicas of an attached and a detached volume move, the attached one stays healthy, data intact, the node holds no replica after', async () => {
      dumpLogsOnFailure();
      const name = 'vol-evict';
      const off = 'vol-evict-off';
      const uri = await createAttached(name, 2);
      const data = randomData(2 << 20);
      await writeVolume(uri, data);
      const offUri = await createAttached(off, 2);
      const offData = randomData(1 << 20);
      await writeVolume(offUri, offData);
      await ok(['volume', 'detach', off]);
      const nodesOf = async (v: string) =>
        (await kubectl().list<Replica>(LH.replicas, NAMESPACE))
          .filter((r) => r.spec.volumeName === v)
          .map((r) => r.spec.nodeID ?? '');
      // Two 2-replica volumes on 3 nodes share at least one node: evict that one.
      const offNodes = await nodesOf(off);
      const from = (await nodesOf(name)).filter((n) => offNodes.includes(n)).sort()[0]!;
      expect(from).toBeDefined();
      const robustness = kubectl().watchField(LH.volumes, name, '{.status.robustness}', NAMESPACE);
      let r: Result;
      try {
        await waitFor('the watch to report', () => robustness.values.length > 0, { timeoutMs: 10_000 });
        const t0 = Date.now();
        r = await kl(['node', 'evict', from, '--timeout', '240'], {}, 280_000);
        process.stdout.write(
          `[kubectl-plugin.test] evicting ${from} (an attached and a detached volume): ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
        );
      } finally {
        robustness.stop();
      }
      expect(r.code, `node evict ${from}: ${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout).toContain(`node.longhorn.io/${from} evicted: no replicas left\n`);
      expect(robustness.values.filter((v) => v !== '')).not.toContain('degraded');
      expect(robustness.values.filter((v) => v !== '')).not.toContain('faulted');
      expect(await ok(['node', 'list'])).toMatch(new RegExp(`\n${from}\\s+\\S+\\s+\\S+\\s+evicting\\s`));
      const node = await kubectl().get<LonghornNode>(LH.nodes, from, NAMESPACE);
      expect(node.spec.evictionRequested).toBe(true);
      expect(node.spec.allowScheduling).toBe(false);
      expect(Object.values(node.status?.diskStatus ?? {}).map((d) => d.scheduledReplica ?? {})).toEqual([{}]);
      for (const v of [name, off]) {
        const nodes = await nodesOf(v);
        expect(nodes, v).toHaveLength(2);
        expect(nodes, v).not.toContain(from);
      }
      expect((await kubectl().get<Volume>(LH.volumes, name, NAMESPACE)).status?.robustness).toBe('healthy');
      expect(sha(await readVolume(uri, 2 << 20))).toBe(sha(data));
      // The detached one was attached for the move by its eviction ticket, and let go after.
      await waitForVolume(kubectl(), off, 'detached again', (v) => v.status?.state === 'detached', 60_000);
      const offVa = await kubectl().get<VolumeAttachment>(LH.attachments, off, NAMESPACE);
      expect(Object.keys(offVa.spec.attachmentTickets ?? {})).toEqual([]);

      expect(await ok(['node', 'evict', from, '--cancel'])).toBe(
        `node.longhorn.io/${from} eviction cancelled (scheduling stays off: kubectl longhorn node scheduling ${from} on)\n`,
      );
      await ok(['node', 'scheduling', from, 'on']);
      const back = await kubectl().get<LonghornNode>(LH.nodes, from, NAMESPACE);
      expect(back.spec.evictionRequested).toBe(false);
      expect(back.spec.allowScheduling).toBe(true);
      const noDisk = await kl(['node', 'evict', from, '--disk', 'nope']);
      expect(noDisk.code).toBe(3);
      expect(noDisk.stderr).toMatch(
        new RegExp(`^error: node ${from} has no disk "nope"; its disks: default-disk-`),
      );
      await ok(['volume', 'attach', off, '--node', 'node-1']);
      const offBack = await waitForEndpoint(kubectl(), off);
      expect(sha(await readVolume(offBack, 1 << 20))).toBe(sha(offData));
      await deleteVolume(name);
      await deleteVolume(off);
    }, 420_000);

    it("volume salvage: a volume faulted by killing its replicas' processes comes back with its data", async () => {
      dumpLogsOnFailure();
      const name = 'vol-salvage';
      await ok(['setting', 'set', 'auto-salvage', 'false']);
      try {
        const uri = await createAttached(name, 2);
        const data = randomData(1 << 20);
        await writeVolume(uri, data);
        const notFaulted = await kl(['volume', 'salvage', name]);
        expect(notFaulted.code).toBe(1);
        expect(notFaulted.stderr).toBe(
          `error: volume ${name} is healthy, not faulted: only a faulted volume is salvaged\n`,
        );
        const replicas = (await kubectl().list<Replica>(LH.replicas, NAMESPACE)).filter(
          (r) => r.spec.volumeName === name,
        );
        const nodes = replicas.map((r) => r.spec.nodeID ?? '');
        const servers = await Promise.all(
          nodes.map(async (n) => {
            const ps = await listDataPlaneProcesses(cluster.longhorn.node(n).instanceManagerAddress);
            return ps.find((p) => p.kind === 'replica-server' && p.state === 'running')!;
          }),
        );
        for (const p of servers) process.kill(p.pid, 'SIGKILL');
        await waitForVolume(
          kubectl(),
          name,
          'faulted and detached',
          (v) => v.status?.robustness === 'faulted' && v.status.state === 'detached',
          90_000,
        );
        const failed = (await kubectl().list<Replica>(LH.replicas, NAMESPACE)).filter(
          (r) => r.spec.volumeName === name,
        );
        expect(failed.every((r) => r.spec.failedAt)).toBe(true);

        const out = await ok(['volume', 'salvage', name]);
        expect(out).toContain(
          `volume.longhorn.io/${name} salvaging replicas ${failed
            .map((r) => r.metadata.name)
            .sort()
            .join(', ')}\n`,
        );
        expect(out).toMatch(
          new RegExp(`volume\\.longhorn\\.io/${name} salvaged: attached, (healthy|degraded)\\n$`),
        );
        const back = await waitForEndpoint(kubectl(), name);
        expect(sha(await readVolume(back, 1 << 20))).toBe(sha(data));
        await waitForVolume(kubectl(), name, 'healthy again', isAttachedHealthy('node-1'), 120_000);
      } finally {
        await ok(['setting', 'set', 'auto-salvage', 'true']);
      }
      await deleteVolume(name);
    }, 300_000);

    describe('backups through the plugin, to a real MinIO', () => {
      let minio: MinioServer | undefined;
      let TARGET = '';

      beforeAll(async () => {
        minio = await MinioServer.start(dir);
        TARGET = minio.targetUrl('plugin');
        await kubectl().apply(minio.secretYaml('minio-secret'));
      }, 120_000);

      afterAll(async () => {
        await minio?.stop();
      });

      it('backup-target set/get: the Secret is checked, the CR written, the operator finds MinIO available', async () => {
        dumpLogsOnFailure();
        const noSecret = await kl(['backup-target', 'set', TARGET, '--credential-secret', 'nope']);
        expect(noSecret.code).toBe(3);
        expect(noSecret.stderr).toBe(`error: Secret "nope" not found in namespace ${NAMESPACE}\n`);
        const badUrl = await kl(['backup-target', 'set', 's3://backups/plugin']);
        expect(badUrl.code).toBe(2);

        const missingBucket = await kl([
          'backup-target',
          'set',
          's3://no-such-bucket@us-east-1/plugin',
          '--credential-secret',
          'minio-secret',
        ]);
        expect(missingBucket.code, missingBucket.stderr).toBe(1);
        // Progress lines first (not a terminal; none when the operator answers before the first
        // one is due), then the one error line with the operator's reason.
        expect(missingBucket.stderr).toMatch(
          /(?:^|\n)error: backup target default is unavailable: .*no bucket no-such-bucket\n$/,
        );
        expect(missingBucket.stderr.match(/^error:/gm)).toHaveLength(1);
        expect((await ok(['backup-target', 'get'])).split('\n')).toContain('Available:          false');

        const t0 = Date.now();
        const out = await ok([
          'backup-target',
          'set',
          TARGET,
          '--credential-secret',
          'minio-secret',
          '--poll-interval',
          '30s',
        ]);
        process.stdout.write(
          `[kubectl-plugin.test] backup-target set until available: ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
        );
        expect(out).toBe(`backuptarget.longhorn.io/default set to ${TARGET}\n`);
        const cr = await kubectl().get<BackupTarget>('backuptargets.longhorn.io', 'default', NAMESPACE);
        expect(cr.spec).toMatchObject({
          backupTargetURL: TARGET,
          credentialSecret: 'minio-secret',
          pollInterval: '30s',
        });
        expect(cr.status?.available).toBe(true);
        const got = await ok(['backup-target', 'get']);
        expect(got).toContain(`URL:                ${TARGET}\n`);
        expect(got).toContain('Credential secret:  minio-secret\n');
        expect(got).toContain('Poll interval:      30s\n');
        expect(got).toContain('Available:          true\n');
      }, 180_000);

      it('backup create --wait: Completed with the URL; list and get show it; restore --to brings the bytes back; delete removes it', async () => {
        dumpLogsOnFailure();
        const name = 'vol-backup';
        const restored = 'vol-restored';
        const uri = await createAttached(name, 2);
        const data = randomData(4 << 20);
        await writeVolume(uri, data);

        const t0 = Date.now();
        const r = await kl(['backup', 'create', name], {}, 300_000);
        expect(r.code, r.stderr).toBe(0);
        process.stdout.write(
          `[kubectl-plugin.test] backup create of 4 MiB written: ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
        );
        const m = /^backup\.longhorn\.io\/(backup-[0-9a-f]{16}) completed: (\S+)\n$/.exec(r.stdout);
        expect(m, r.stdout).not.toBeNull();
        const backupName = m![1]!;
        const url = m![2]!;
        expect(url).toBe(`${TARGET}?backup=${backupName}&volume=${name}`);
        expect(r.stderr).toContain(`backup ${backupName} of volume ${name}: completed`);
        const cr = await kubectl().get<Backup>('backups.longhorn.io', backupName, NAMESPACE);
        expect(cr.metadata.labels?.['backup-volume']).toBe(name);
        expect(cr.status).toMatchObject({ state: 'Completed', url });

        const list = await ok(['backup', 'list', name]);
        expect(list.split('\n')[0]).toMatch(/^NAME\s+VOLUME\s+SNAPSHOT\s+SIZE\s+STATE\s+CREATED$/);
        expect(list).toMatch(
          new RegExp(`^${backupName}\\s+${name}\\s+\\S+\\s+[\\d.]+ MiB\\s+Completed\\s`, 'm'),
        );
        expect(await ok(['backup', 'list', 'no-such-volume'])).toBe('');
        expect(await ok(['backup', 'get', backupName])).toContain(`URL:             ${url}\n`);

        const missing = await kl(['backup', 'create', 'vol-not-here']);
        expect(missing.code).toBe(3);

        const t1 = Date.now();
        const out = await kl(
          ['backup', 'restore', backupName, '--to', restored, '--replicas', '2'],
          {},
          300_000,
        );
        expect(out.code, out.stderr).toBe(0);
        process.stdout.write(
          `[kubectl-plugin.test] backup restore of a 16 MiB volume: ${((Date.now() - t1) / 1000).toFixed(1)} s\n`,
        );
        expect(out.stdout).toBe(
          `volume.longhorn.io/${restored} restored from backup ${backupName} (16 MiB of volume ${name})\n`,
        );
        const v = await kubectl().get<Volume>(LH.volumes, restored, NAMESPACE);
        expect(v.spec.fromBackup).toBe(url);
        expect(v.status?.restoreRequired).toBe(false);
        expect(v.status?.restoreInitiated).toBe(true);
        // Then the restore ticket goes and the volume detaches, as Longhorn's does.
        await waitForVolume(
          kubectl(),
          restored,
          'detached after its restore',
          (x) => x.status?.state === 'detached',
          90_000,
        );
        expect(await ok(['volume', 'get', restored])).toContain(`From backup:     ${url} (restored)\n`);
        const again = await kl(['backup', 'restore', backupName, '--to', restored]);
        expect(again.code).toBe(1);
        expect(again.stderr).toBe(`error: volume ${restored} already exists; restore into a new volume\n`);

        await ok(['volume', 'attach', restored, '--node', 'node-1']);
        const back = await waitForEndpoint(kubectl(), restored);
        expect(sha(await readVolume(back, 4 << 20))).toBe(sha(data));

        // A second backup, of a snapshot taken by name, after more writes: incremental, newest first.
        const more = randomData(1 << 20);
        await writeVolume(uri, Buffer.concat([data.subarray(0, 2 << 20), more, data.subarray(3 << 20)]));
        await ok(['snapshot', 'create', name, '--name', 'bk-snap']);
        const second = await kl(
          ['backup', 'create', name, '--snapshot', 'bk-snap', '-o', 'name'],
          {},
          300_000,
        );
        expect(second.code, second.stderr).toBe(0);
        const second1 = /^backup\.longhorn\.io\/(backup-[0-9a-f]{16})\n$/.exec(second.stdout)?.[1];
        expect(second1, second.stdout).toBeDefined();
        const rows = (await ok(['backup', 'list', name])).trim().split('\n').slice(1);
        expect(rows.map((l) => l.split(/\s+/).slice(0, 3))).toEqual([
          [second1, name, 'bk-snap'],
          [backupName, name, expect.any(String)],
        ]);

        // A standby (DR) volume of it: no frontend, held by its restore, following the newest backup.
        const dr = 'vol-dr';
        const standby = await kl(
          ['backup', 'restore', second1!, '--to', dr, '--standby', '--replicas', '1'],
          {},
          300_000,
        );
        expect(standby.code, standby.stderr).toBe(0);
        expect(standby.stderr).toContain(`volume ${dr}: standby, holds ${second1}`);
        expect(standby.stdout).toBe(
          `volume.longhorn.io/${dr} restored from backup ${second1} (16 MiB of volume ${name}), standby\n`,
        );
        const drVolume = await kubectl().get<Volume>(LH.volumes, dr, NAMESPACE);
        // The plugin sends frontend "" as Longhorn's API requires of a standby volume; the mutator
        // may fill its default, which the volume only uses once activated.
        expect(drVolume.spec).toMatchObject({ Standby: true, numberOfReplicas: 1 });
        expect(drVolume.status?.isStandby).toBe(true);
        expect(await ok(['volume', 'get', dr])).toContain('(standby)\n');
        await ok(['volume', 'delete', dr, '--force']);
        await waitFor(`the replicas of ${dr} to go`, async () =>
          (await kubectl().list<Replica>(LH.replicas, NAMESPACE)).every((r) => r.spec.volumeName !== dr),
        );
        await ok(['backup', 'delete', second1!]);

        expect(await ok(['backup', 'delete', backupName])).toBe(`backup.longhorn.io/${backupName} deleted\n`);
        expect(await kubectl().tryGet('backups.longhorn.io', backupName, NAMESPACE)).toBeUndefined();
        const gone = await kl(['backup', 'get', backupName]);
        expect(gone.code).toBe(3);
        expect(gone.stderr).toBe(`error: Backup "${backupName}" not found in namespace ${NAMESPACE}\n`);

        await deleteVolume(restored);
        await ok(['volume', 'detach', name]);
        await waitForVolume(kubectl(), name, 'detached', (x) => x.status?.state === 'detached', 90_000);
        const refused = await kl(['backup', 'create', name]);
        expect(refused.code).toBe(1);
        expect(refused.stderr).toMatch(
          new RegExp(`^error: volume ${name} is detached: a snapshot is taken through its engine; `),
        );
        await ok(['volume', 'delete', name]);
      }, 600_000);
    });
  });
});
