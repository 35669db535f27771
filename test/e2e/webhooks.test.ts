/**
 * The admission webhooks against a real API server (one-node bare control plane, our CRDs):
 * the webhook process registers both configurations by URL on 127.0.0.1 with its own CA;
 * invalid objects are refused with the webhook's message, valid ones come back defaulted
 * (from Settings read through its informer cache); with the process stopped, our objects and
 * the namespace can still be deleted, and PVCs still update.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { binaryPath } from '../src/harness/binaries.js';
import { Cluster, stopAbandonedClusters } from '../src/harness/cluster.js';
import { KubectlError } from '../src/harness/kubectl.js';
import { installLonghornApi } from '../src/harness/longhorn-api.js';
import { ManagedProcess } from '../src/harness/managed-process.js';
import { freePort } from '../src/harness/ports.js';
import { waitFor } from '../src/harness/wait.js';

const skip = process.env.LONGHORN_TS_SKIP_K8S === '1';
const WEBHOOK_MAIN = fileURLToPath(new URL('../../webhooks/dist/main.js', import.meta.url));
const NS = 'longhorn-system';

interface KubeObject {
  metadata: { name: string; finalizers?: string[]; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  value?: string;
}

function volume(name: string, spec: Record<string, unknown>): object {
  return { apiVersion: 'longhorn.io/v1beta2', kind: 'Volume', metadata: { name, namespace: NS }, spec };
}

describe.skipIf(skip)('admission webhooks on a real API server', () => {
  let dir: string;
  let cluster: Cluster;
  let webhook: ManagedProcess | undefined;
  let ready: { webhook: string; pid: number };

  /** kubectl with stdout and stderr (warnings arrive on stderr of a successful call). */
  function kubectl(args: string[], input?: object): Promise<{ stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        binaryPath('kubectl'),
        ['--kubeconfig', cluster.kubeconfig, ...args],
        { timeout: 30_000 },
        (err, stdout, stderr) =>
          err ? reject(new KubectlError(args, stderr || err.message, null)) : resolve({ stdout, stderr }),
      );
      child.stdin?.end(input === undefined ? undefined : JSON.stringify(input));
    });
  }

  async function refusal(object: object, verb = 'create'): Promise<string> {
    const err = await kubectl([verb, '-f', '-'], object).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, 'the API server should have refused it').toBeInstanceOf(KubectlError);
    return (err as KubectlError).stderr;
  }

  async function get<T = KubeObject>(resource: string, name: string): Promise<T> {
    return JSON.parse((await kubectl(['-n', NS, 'get', resource, name, '-o', 'json'])).stdout) as T;
  }

  beforeAll(async () => {
    await stopAbandonedClusters(tmpdir(), 'lh-e2e-webhooks-');
    dir = await mkdtemp(join(tmpdir(), 'lh-e2e-webhooks-'));
    cluster = await Cluster.start({ dir, nodes: 1 });
    await installLonghornApi(cluster.kubectl);
    const port = await freePort();
    const logFile = join(dir, 'logs', 'webhooks.log');
    webhook = ManagedProcess.start({
      name: 'webhooks',
      command: process.execPath,
      args: [WEBHOOK_MAIN, '--listen', `127.0.0.1:${port}`, '--local', '--kubeconfig', cluster.kubeconfig],
      env: { ...process.env, LOG_LEVEL: 'debug' },
      logFile,
    });
    const proc = webhook;
    ready = await waitFor(
      'the webhook ready line',
      async () => {
        if (!proc.running)
          throw Object.assign(new Error(`webhooks exited:\n${await readFile(logFile, 'utf8')}`), {
            fatal: true,
          });
        const line = (await readFile(logFile, 'utf8')).split('\n').find((l) => l.startsWith('{"webhook":'));
        return line ? (JSON.parse(line) as { webhook: string; pid: number }) : undefined;
      },
      { timeoutMs: 30_000, isFatal: (e) => (e as { fatal?: boolean }).fatal === true },
    );
    // The API server picks up new webhook configurations through its own informer.
    await waitFor('the API server to call the validating webhook', async () => {
      const message = await refusal(
        volume('probe', { size: '2097152', numberOfReplicas: 2, dataLocality: 'strict-local' }),
      );
      return message.includes('denied the request');
    });
  }, 150_000);

  afterAll(async () => {
    await webhook?.stop(5000);
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function logsOnFailure(): void {
    onTestFailed(async () => {
      process.stderr.write(`${await cluster.logTails(30)}\n`);
      if (webhook)
        process.stderr.write(`${(await readFile(webhook.logFile, 'utf8').catch(() => '')).slice(-4000)}\n`);
    });
  }

  it('prints one ready line and registers both configurations with a URL and a CA bundle', async () => {
    logsOnFailure();
    expect(ready.pid).toBe(webhook?.pid);
    expect(ready.webhook).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    for (const kind of [
      'validatingwebhookconfiguration/longhorn-webhook-validator',
      'mutatingwebhookconfiguration/longhorn-webhook-mutator',
    ]) {
      const config = JSON.parse((await kubectl(['get', kind, '-o', 'json'])).stdout) as {
        webhooks: { clientConfig: { url: string; caBundle: string }; failurePolicy: string }[];
      };
      for (const w of config.webhooks) {
        expect(w.clientConfig.url.startsWith(ready.webhook)).toBe(true);
        expect(Buffer.from(w.clientConfig.caBundle, 'base64').toString()).toContain('BEGIN CERTIFICATE');
      }
    }
  });

  it.each<[string, object, string]>([
    [
      'a strict-local Volume with 2 replicas',
      volume('bad-strict', { size: '2147483648', numberOfReplicas: 2, dataLocality: 'strict-local' }),
      "spec.dataLocality strict-local keeps the only replica on the volume's node, so it needs spec.numberOfReplicas 1 (it is 2); set numberOfReplicas to 1 or use dataLocality best-effort",
    ],
    [
      'a migratable rwo Volume',
      volume('bad-migratable', { size: '2147483648', migratable: true, accessMode: 'rwo' }),
      'spec.migratable needs spec.accessMode rwx (it is rwo); set accessMode to rwx or migratable to false',
    ],
    [
      'an nvmf Volume on data engine v1',
      volume('bad-frontend', { size: '2147483648', frontend: 'nvmf' }),
      'spec.frontend nvmf is not served by data engine v1; use blockdev, iscsi or nbd',
    ],
    [
      'a Setting out of range',
      {
        apiVersion: 'longhorn.io/v1beta2',
        kind: 'Setting',
        metadata: { name: 'default-replica-count', namespace: NS },
        value: '21',
      },
      'setting default-replica-count: 21 is above the maximum 20; use an integer from 1 to 20',
    ],
    [
      'a RecurringJob with a bad cron',
      {
        apiVersion: 'longhorn.io/v1beta2',
        kind: 'RecurringJob',
        metadata: { name: 'bad-cron', namespace: NS },
        spec: { task: 'snapshot', cron: '0 25 * * *', retain: 3 },
      },
      'spec.cron: cron "0 25 * * *": hour "25" is not a value from 0 to 23',
    ],
    [
      'a RecurringJob retaining 101',
      {
        apiVersion: 'longhorn.io/v1beta2',
        kind: 'RecurringJob',
        metadata: { name: 'bad-retain', namespace: NS },
        spec: { task: 'backup', cron: '@daily', retain: 101 },
      },
      'spec.retain 101 is more than the 100 the setting recurring-job-max-retention allows; keep at most 100',
    ],
    [
      'a BackupTarget without a region',
      {
        apiVersion: 'longhorn.io/v1beta2',
        kind: 'BackupTarget',
        metadata: { name: 'bad-target', namespace: NS },
        spec: { backupTargetURL: 's3://backups/path' },
      },
      'backupTargetURL "s3://backups/path" is not a s3 target; write s3://<bucket>@<region>/<path>, e.g. s3://backups@us-east-1/',
    ],
    [
      'a Node with two disks on one path',
      {
        apiVersion: 'longhorn.io/v1beta2',
        kind: 'Node',
        metadata: { name: 'node-x', namespace: NS },
        spec: {
          name: 'node-x',
          disks: {
            a: { path: '/data', allowScheduling: true },
            b: { path: '/data/', allowScheduling: true },
          },
        },
      },
      'disks a and b both use the path /data; give each disk its own directory or remove one',
    ],
  ])('refuses %s with its message', async (_what, object, message) => {
    logsOnFailure();
    const stderr = await refusal(object);
    expect(stderr).toContain('admission webhook "validator.longhorn.io" denied the request');
    expect(stderr).toContain(message);
  });

  it('fills a Volume with defaults, Settings included, and warns about one replica', async () => {
    logsOnFailure();
    await kubectl(['apply', '-f', '-'], {
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'Setting',
      metadata: { name: 'default-data-locality', namespace: NS },
      value: 'best-effort',
    });
    // The webhook reads Settings from its informer cache: wait until the new value is used.
    await waitFor('the webhook to see default-data-locality', async () => {
      const out = await kubectl(
        ['create', '--dry-run=server', '-o', 'json', '-f', '-'],
        volume('dry', { size: '1' }),
      );
      return (JSON.parse(out.stdout) as KubeObject).spec?.dataLocality === 'best-effort';
    });
    await kubectl(['create', '-f', '-'], volume('vol-a', { size: '3000000' }));
    const created = await get('volume', 'vol-a');
    expect(created.spec).toMatchObject({
      size: '4194304',
      numberOfReplicas: 3,
      dataLocality: 'best-effort',
      accessMode: 'rwo',
      frontend: 'blockdev',
      dataEngine: 'v1',
      snapshotMaxCount: 250,
      backupCompressionMethod: 'lz4',
      replicaSoftAntiAffinity: 'ignored',
      replicaZoneSoftAntiAffinity: 'ignored',
      replicaDiskSoftAntiAffinity: 'ignored',
      staleReplicaTimeout: 30,
      backupTargetName: 'default',
    });
    expect(created.metadata.finalizers).toEqual(['longhorn.io']);
    expect(created.metadata.labels).toMatchObject({ longhornvolume: 'vol-a' });

    const one = await kubectl(
      ['create', '-f', '-'],
      volume('vol-one', { size: '2097152', numberOfReplicas: 1 }),
    );
    expect(one.stderr).toContain('Warning: spec.numberOfReplicas is 1');
  });

  it('refuses shrinking and a changed data engine on UPDATE', async () => {
    logsOnFailure();
    const shrink = await kubectl([
      '-n',
      NS,
      'patch',
      'volume',
      'vol-a',
      '--type=merge',
      '-p',
      '{"spec":{"size":"2097152"}}',
    ]).then(
      () => '',
      (e: KubectlError) => e.stderr,
    );
    expect(shrink).toContain(
      'spec.size cannot shrink from 4194304 to 2097152: volumes only grow; set a size of at least "4194304"',
    );
    const msg = await kubectl([
      '-n',
      NS,
      'patch',
      'volume',
      'vol-a',
      '--type=merge',
      '-p',
      '{"spec":{"dataEngine":"v2"}}',
    ]).then(
      () => '',
      (e: KubectlError) => e.stderr,
    );
    expect(msg).toContain('spec.dataEngine cannot change after creation (was "v1", now "v2")');
  });

  it('with the webhook stopped: longhorn.io writes fail closed, PVCs still update, deletion of our objects and the namespace works', async () => {
    logsOnFailure();
    await kubectl(['create', '-f', '-'], {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'data', namespace: 'default' },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
    });
    await webhook?.stop(5000);
    expect(await webhook?.exited).toBe(0);

    const closed = await refusal(volume('while-down', { size: '2097152' }));
    expect(closed).toMatch(/failed calling webhook "mutator.longhorn.io"/);
    // PVCs: failurePolicy Ignore.
    await kubectl(['-n', 'default', 'label', 'pvc', 'data', 'touched=yes']);

    // DELETE never goes to the webhook; the finalizer (no operator runs here) is removed by an
    // UPDATE the match condition keeps away from the webhook.
    await kubectl(['-n', NS, 'delete', 'volume', 'vol-a', 'vol-one', '--wait=false']);
    for (const name of ['vol-a', 'vol-one']) {
      await kubectl([
        '-n',
        NS,
        'patch',
        'volume',
        name,
        '--type=merge',
        '-p',
        '{"metadata":{"finalizers":null}}',
      ]);
    }
    await waitFor(
      'the volumes to be gone',
      async () => (await kubectl(['-n', NS, 'get', 'volumes', '-o', 'name'])).stdout.trim() === '',
    );
    await kubectl(['delete', 'namespace', NS, '--wait=false']);
    await waitFor(
      'the namespace to be gone',
      async () =>
        (await kubectl(['get', 'namespace', NS, '--ignore-not-found', '-o', 'name'])).stdout.trim() === '',
      { timeoutMs: 60_000 },
    );
  });
});
