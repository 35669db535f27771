import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CRDS_YAML_PATH,
  csiAttachmentTicketId,
  defaultSettingObjects,
  longhornCrds,
  NAMESPACE,
  type RecurringJob,
  type Setting,
  type Volume,
  type VolumeAttachment,
} from '@longhorn-ts/api';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { parse } from 'yaml';
import { Cluster, stopAbandonedClusters } from '../src/harness/cluster.js';
import { KubectlError } from '../src/harness/kubectl.js';

const skip = process.env.LONGHORN_TS_SKIP_K8S === '1';

function fixture(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

function fixtureObject<T>(name: string): T {
  return parse(readFileSync(fixture(name), 'utf8')) as T;
}

/** The stderr of a kubectl call that must fail. */
async function rejection(call: Promise<unknown>): Promise<string> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'kubectl should have failed').toBeInstanceOf(KubectlError);
  return (err as KubectlError).stderr;
}

/**
 * `kubectl apply` of one object as it is, so the API server answers (the harness's `apply`
 * sends a List, which kubectl checks against the published schema before sending).
 */
function applyOne(cluster: Cluster, object: object): Promise<string> {
  return cluster.kubectl.run(['apply', '-f', '-'], { input: JSON.stringify(object) });
}

/** `kubectl get` as a table: header cells and the row of `name`. */
function tableRow(output: string, name: string): Record<string, string> {
  const [header = '', ...rows] = output.trimEnd().split('\n');
  const starts = [...header.matchAll(/\S+(?: \S+)*/g)].map((m) => m.index);
  const cells = (line: string) => starts.map((s, i) => line.slice(s, starts[i + 1]).trim());
  const row = rows.find((r) => r.startsWith(`${name} `));
  if (!row) throw new Error(`no row ${name} in\n${output}`);
  const names = cells(header);
  const values = cells(row);
  return Object.fromEntries(names.map((n, i) => [n, values[i] ?? '']));
}

describe.skipIf(skip)('longhorn.io/v1beta2 CRDs on a real API server', () => {
  let dir: string;
  let cluster: Cluster;

  beforeAll(async () => {
    await stopAbandonedClusters(tmpdir(), 'lh-e2e-crds-');
    dir = await mkdtemp(join(tmpdir(), 'lh-e2e-crds-'));
    cluster = await Cluster.start({ dir, nodes: 1 });
  });

  afterAll(async () => {
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function dumpLogsOnFailure(): void {
    onTestFailed(async () => {
      process.stderr.write(`${await cluster.logTails(40)}\n`);
    });
  }

  const ns = ['-n', NAMESPACE];

  it('installs all 13 CRDs from the generated YAML and they become Established', async () => {
    dumpLogsOnFailure();
    await cluster.kubectl.applyFile(CRDS_YAML_PATH);
    await cluster.kubectl.waitForCondition('crd', 'Established', {
      selector: 'app.kubernetes.io/name=longhorn-ts',
      timeoutMs: 60_000,
    });
    const resources = await cluster.kubectl.run(['api-resources', '--api-group=longhorn.io', '-o', 'name']);
    expect(resources.trim().split('\n').sort()).toEqual(
      longhornCrds()
        .map((c) => c.metadata.name)
        .sort(),
    );
    await cluster.kubectl.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } });
  });

  it("applies a Longhorn Volume's YAML unchanged and reads it back", async () => {
    dumpLogsOnFailure();
    await cluster.kubectl.applyFile(fixture('longhorn-volume.yaml'));
    const applied = fixtureObject<Volume>('longhorn-volume.yaml');
    const volume = await cluster.kubectl.get<Volume>('lhv', 'test-vol', NAMESPACE);
    expect(volume.spec).toEqual(applied.spec);
    expect(volume.spec.size).toBe('2147483648');
    expect(volume.spec.Standby).toBe(false);
    expect(volume.metadata.labels).toMatchObject({ longhornvolume: 'test-vol' });
  });

  it('takes the nulls Longhorn writes for unset lists and strings', async () => {
    dumpLogsOnFailure();
    await applyOne(cluster, {
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'Volume',
      metadata: { name: 'with-nulls', namespace: NAMESPACE },
      spec: { size: '1073741824', numberOfReplicas: 1, diskSelector: null, nodeSelector: null, nodeID: null },
    });
    const volume = await cluster.kubectl.get<Volume>('lhv', 'with-nulls', NAMESPACE);
    expect(volume.spec).toEqual({ size: '1073741824', numberOfReplicas: 1 });
    await cluster.kubectl.run(['delete', 'lhv', 'with-nulls', ...ns]);
  });

  it('applies a Setting, a VolumeAttachment with tickets and a RecurringJob, and reads them back', async () => {
    dumpLogsOnFailure();
    for (const file of [
      'longhorn-setting.yaml',
      'longhorn-volume-attachment.yaml',
      'longhorn-recurring-job.yaml',
    ]) {
      await cluster.kubectl.applyFile(fixture(file));
    }
    const setting = await cluster.kubectl.get<Setting>('lhs', 'default-replica-count', NAMESPACE);
    expect(setting.value).toBe('{"v1":"2","v2":"2"}');

    const attachment = await cluster.kubectl.get<VolumeAttachment>('lhva', 'test-vol', NAMESPACE);
    expect(attachment.spec).toEqual(fixtureObject<VolumeAttachment>('longhorn-volume-attachment.yaml').spec);
    const csiTicket = csiAttachmentTicketId('test-vol', 'node-1');
    expect(attachment.spec.attachmentTickets?.[csiTicket]).toEqual({
      id: csiTicket,
      type: 'csi-attacher',
      nodeID: 'node-1',
      parameters: { disableFrontend: 'false', lastAttachedBy: '' },
      generation: 0,
    });

    const job = await cluster.kubectl.get<RecurringJob>('lhrj', 'snapshot-1', NAMESPACE);
    // Longhorn's schema defaults the retention policy; everything else is as written.
    expect(job.spec).toEqual({
      ...fixtureObject<RecurringJob>('longhorn-recurring-job.yaml').spec,
      retentionPolicy: 'count-based',
    });
  });

  it('applies every default Setting of the registry', async () => {
    dumpLogsOnFailure();
    const settings = defaultSettingObjects().filter((s) => s.metadata.name !== 'default-replica-count');
    await cluster.kubectl.apply(settings);
    const stored = await cluster.kubectl.list<Setting>('lhs', NAMESPACE);
    expect(stored.length).toBe(settings.length + 1);
    expect(stored.find((s) => s.metadata.name === 'storage-minimal-available-percentage')?.value).toBe('25');
  });

  it('rejects a bad enum, an out-of-range replica count and a size that is not bytes, saying why', async () => {
    dumpLogsOnFailure();
    const volume = (name: string, spec: Record<string, unknown>) => ({
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'Volume',
      metadata: { name, namespace: NAMESPACE },
      spec: { size: '1073741824', numberOfReplicas: 3, ...spec },
    });

    const badLocality = await rejection(
      cluster.kubectl.apply(volume('bad-locality', { dataLocality: 'foo' })),
    );
    expect(badLocality).toContain('spec.dataLocality: Unsupported value: "foo"');
    expect(badLocality).toContain('supported values: "disabled", "best-effort", "strict-local"');

    const tooMany = await rejection(applyOne(cluster, volume('too-many', { numberOfReplicas: 21 })));
    expect(tooMany).toContain('spec.numberOfReplicas: Invalid value: 21');
    expect(tooMany).toContain('should be less than or equal to 20');

    const gibibytes = await rejection(applyOne(cluster, volume('gibibytes', { size: '2Gi' })));
    expect(gibibytes).toContain('spec.size: Invalid value: "2Gi"');
    expect(gibibytes).toContain("should match '^[0-9]+$'");

    const unknown = await rejection(applyOne(cluster, volume('unknown-field', { replicas: 3 })));
    expect(unknown).toContain('strict decoding error: unknown field "spec.replicas"');

    for (const name of ['bad-locality', 'too-many', 'gibibytes', 'unknown-field']) {
      expect(await cluster.kubectl.tryGet('lhv', name, NAMESPACE)).toBeUndefined();
    }
  });

  it('keeps Longhorn fields immutable (encrypted) and Snapshot spec.volume', async () => {
    dumpLogsOnFailure();
    const encrypted = await rejection(
      cluster.kubectl.run([
        'patch',
        'lhv',
        'test-vol',
        ...ns,
        '--type=merge',
        '-p',
        '{"spec":{"encrypted":true}}',
      ]),
    );
    expect(encrypted).toContain('Encrypted is immutable');

    const snapshot = {
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'Snapshot',
      metadata: { name: 'snap-1', namespace: NAMESPACE },
      spec: { volume: 'test-vol', createSnapshot: true },
    };
    await cluster.kubectl.apply(snapshot);
    const moved = await rejection(
      applyOne(cluster, { ...snapshot, spec: { volume: 'other', createSnapshot: true } }),
    );
    expect(moved).toContain('spec.volume is immutable');
    const noVolume = await rejection(
      applyOne(cluster, { ...snapshot, metadata: { name: 'snap-2', namespace: NAMESPACE }, spec: {} }),
    );
    expect(noVolume).toContain('spec.volume: Required value');
  });

  it('shows Longhorn printer columns for volumes and engines', async () => {
    dumpLogsOnFailure();
    const status = {
      status: {
        state: 'attached',
        robustness: 'healthy',
        currentNodeID: 'node-1',
        conditions: [{ type: 'Scheduled', status: 'True', reason: '', message: '' }],
      },
    };
    await cluster.kubectl.run([
      'patch',
      'lhv',
      'test-vol',
      ...ns,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify(status),
    ]);
    const volumes = await cluster.kubectl.run(['get', 'lhv', ...ns]);
    expect(volumes.split('\n')[0]).toMatch(
      /^NAME\s+DATA ENGINE\s+STATE\s+ROBUSTNESS\s+SCHEDULED\s+SIZE\s+NODE\s+AGE$/,
    );
    expect(tableRow(volumes, 'test-vol')).toMatchObject({
      'DATA ENGINE': 'v1',
      STATE: 'attached',
      ROBUSTNESS: 'healthy',
      SCHEDULED: 'True',
      SIZE: '2147483648',
      NODE: 'node-1',
    });

    await cluster.kubectl.apply({
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'Engine',
      metadata: { name: 'test-vol-e-0', namespace: NAMESPACE, labels: { longhornvolume: 'test-vol' } },
      spec: {
        volumeName: 'test-vol',
        volumeSize: '2147483648',
        nodeID: 'node-1',
        dataEngine: 'v1',
        frontend: 'nbd',
      },
    });
    await cluster.kubectl.run([
      'patch',
      'lhe',
      'test-vol-e-0',
      ...ns,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({
        status: {
          currentState: 'running',
          endpoint: 'nbd://127.0.0.1:10809',
          replicaModeMap: { 'test-vol-r-1': 'RW', 'test-vol-r-2': 'WO' },
        },
      }),
    ]);
    const engines = await cluster.kubectl.run(['get', 'lhe', ...ns, '-o', 'wide']);
    expect(tableRow(engines, 'test-vol-e-0')).toMatchObject({
      STATE: 'running',
      NODE: 'node-1',
      ENDPOINT: 'nbd://127.0.0.1:10809',
    });
    const badMode = await rejection(
      cluster.kubectl.run([
        'patch',
        'lhe',
        'test-vol-e-0',
        ...ns,
        '--subresource=status',
        '--type=merge',
        '-p',
        '{"status":{"replicaModeMap":{"test-vol-r-1":"RO"}}}',
      ]),
    );
    expect(badMode).toContain('Unsupported value: "RO"');
  });

  it('lists every Longhorn object under the category longhorn', async () => {
    dumpLogsOnFailure();
    const names = (await cluster.kubectl.run(['get', 'longhorn', ...ns, '-o', 'name'])).trim().split('\n');
    expect(names).toEqual(
      expect.arrayContaining([
        'volume.longhorn.io/test-vol',
        'engine.longhorn.io/test-vol-e-0',
        'volumeattachment.longhorn.io/test-vol',
        'recurringjob.longhorn.io/snapshot-1',
        'snapshot.longhorn.io/snap-1',
        'setting.longhorn.io/default-replica-count',
      ]),
    );
  });
});
