import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CRDS_YAML_PATH,
  longhornCrds,
  SETTING_DEFINITIONS,
  type SettingSpec,
  validateSetting,
} from '@longhorn-ts/api';
import { csiDriverObject } from '@longhorn-ts/csi';
import { extenderStanza } from '@longhorn-ts/scheduler-extender';
import { mutatingConfiguration, validatingConfiguration } from '@longhorn-ts/webhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { CHART_CRDS_PATH, CHART_DIR, replaceBetween, staleChartFiles } from '../src/chart/chart-files.js';
import {
  findObject,
  HelmError,
  helm,
  objectRef,
  parseManifests,
  TEMPLATE_KUBE_VERSION,
} from '../src/chart/helm.js';
import {
  chartSettingNames,
  defaultSettingsSchema,
  everySettingValues,
  settingValueKey,
  settingValueSchema,
} from '../src/chart/setting-values.js';
import { unsetPaths, valueLeafPaths } from '../src/chart/value-paths.js';
import { hasBinary } from '../src/harness/binaries.js';
import type { KubeObject } from '../src/harness/kubectl.js';

const NAMESPACE = 'longhorn-system';
const ALL_VALUES = join(CHART_DIR, 'ci', 'all-values.yaml');

describe('chart files generated from the workspaces', () => {
  it('are up to date (node test/dist/chart/sync-chart.js writes them)', () => {
    expect(staleChartFiles()).toEqual([]);
  });

  it("holds api's CRDs byte for byte in crds/", () => {
    expect(readFileSync(CHART_CRDS_PATH, 'utf8')).toBe(readFileSync(CRDS_YAML_PATH, 'utf8'));
    expect(parseManifests(readFileSync(CHART_CRDS_PATH, 'utf8'))).toEqual(longhornCrds());
  });

  it("names settings in camelCase as Longhorn's chart does, and refuses a name that is not kebab-case", () => {
    expect(settingValueKey('default-replica-count')).toBe('defaultReplicaCount');
    expect(settingValueKey('v1-data-engine')).toBe('v1DataEngine');
    expect(settingValueKey('backup-target')).toBe('backupTarget');
    expect(() => settingValueKey('Default_Replica')).toThrow(
      'setting name "Default_Replica" is not kebab-case',
    );
    const keys = chartSettingNames().map(settingValueKey);
    expect(new Set(keys).size).toBe(keys.length);
    expect(chartSettingNames()).not.toContain('current-longhorn-version'); // read-only
  });

  it('gives each setting type its schema', () => {
    const schema = (name: keyof typeof SETTING_DEFINITIONS) => {
      const { description: _, ...rest } = settingValueSchema(SETTING_DEFINITIONS[name] as SettingSpec);
      return rest;
    };
    expect(schema('default-replica-count')).toEqual({
      type: ['integer', 'string', 'null'],
      minimum: 1,
      maximum: 20,
    });
    expect(schema('auto-salvage')).toEqual({ type: ['boolean', 'null'] });
    expect(schema('default-data-locality')).toEqual({
      type: ['string', 'null'],
      enum: ['disabled', 'best-effort', 'strict-local', null],
    });
    expect(schema('backup-target')).toEqual({ type: ['string', 'null'] });
    expect(defaultSettingsSchema().additionalProperties).toBe(false);
  });

  it('finds documented values a values file leaves unset', () => {
    const documented = { a: { b: 1, c: {} }, d: [], e: { f: { g: 'x' } } };
    expect(valueLeafPaths(documented)).toEqual(['a.b', 'a.c', 'd', 'e.f.g']);
    expect(unsetPaths(documented, { a: { b: 2, c: { k: 'v' } }, d: [1] })).toEqual(['e.f.g']);
    expect(unsetPaths(documented, documented)).toEqual([]);
  });

  it("runs the pre-delete check when started through a ConfigMap volume's symlinks", async () => {
    // In the Job, /check/uninstall-check.mjs -> ..data/uninstall-check.mjs -> ..<timestamp>/...:
    // on the real node the script did nothing there and exited 0 (helm uninstall went ahead).
    const dir = await mkdtemp(join(tmpdir(), 'lh-uninstall-check-'));
    try {
      await mkdir(join(dir, '..2026_12_02'));
      await copyFile(
        join(CHART_DIR, 'files', 'uninstall-check.mjs'),
        join(dir, '..2026_12_02', 'uninstall-check.mjs'),
      );
      await symlink('..2026_12_02', join(dir, '..data'));
      await symlink('..data/uninstall-check.mjs', join(dir, 'uninstall-check.mjs'));
      await writeFile(join(dir, 'token'), 't');
      await writeFile(join(dir, 'ca.crt'), '');
      const run = spawnSync(process.execPath, [join(dir, 'uninstall-check.mjs')], {
        encoding: 'utf8',
        env: {
          ...process.env,
          NAMESPACE: 'longhorn-system',
          LONGHORN_TS_API: 'https://127.0.0.1:1',
          LONGHORN_TS_TOKEN_FILE: join(dir, 'token'),
          LONGHORN_TS_CA_FILE: join(dir, 'ca.crt'),
        },
      });
      expect(run.stderr).toContain('uninstall check failed');
      expect(run.status).toBe(2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("decides the pre-delete check: no volumes, volumes with and without Longhorn's confirmation flag", async () => {
    const path = join(CHART_DIR, 'files', 'uninstall-check.mjs');
    const { uninstallVerdict } = (await import(path)) as {
      uninstallVerdict: (
        volumes: string[],
        flag: string | undefined,
      ) => { allowed: boolean; message: string };
    };
    expect(uninstallVerdict([], undefined)).toEqual({
      allowed: true,
      message: 'no longhorn.io Volumes: uninstalling',
    });
    expect(uninstallVerdict(['v1'], 'true').allowed).toBe(true);
    for (const flag of [undefined, 'false', 'TRUE', '']) {
      const verdict = uninstallVerdict(['v1', 'v2'], flag);
      expect(verdict.allowed, String(flag)).toBe(false);
      expect(verdict.message).toContain('refusing to uninstall: 2 Volume(s) exist (v1, v2)');
      expect(verdict.message).toContain('deleting-confirmation-flag');
    }
    const many = uninstallVerdict(
      Array.from({ length: 12 }, (_, i) => `vol-${i}`),
      undefined,
    );
    expect(many.message).toContain(
      '12 Volume(s) exist (vol-0, vol-1, vol-2, vol-3, vol-4, vol-5, vol-6, vol-7, vol-8, vol-9, ...)',
    );
  });

  it('replaces only the lines between markers, and says which file lacks them', () => {
    expect(replaceBetween('x\n# B\nold\n# E\ny', ['# B', '# E'], ['new1', 'new2'], 'f')).toBe(
      'x\n# B\nnew1\nnew2\n# E\ny',
    );
    expect(() => replaceBetween('x', ['# B', '# E'], [], 'values.yaml')).toThrow(
      'values.yaml: markers "# B" ... "# E" not found',
    );
  });
});

/** The stderr of a helm call that must fail. */
async function refusal(call: Promise<unknown>): Promise<string> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'helm should have failed').toBeInstanceOf(HelmError);
  return (err as HelmError).stderr;
}

function template(args: string[] = [], namespace = NAMESPACE): Promise<KubeObject[]> {
  return helm([
    'template',
    'lh',
    CHART_DIR,
    '-n',
    namespace,
    '--kube-version',
    TEMPLATE_KUBE_VERSION,
    ...args,
  ]).then(parseManifests);
}

type PodTemplate = {
  spec: {
    template: {
      spec: {
        priorityClassName?: string;
        containers: { name: string; securityContext?: { privileged?: boolean }; command?: string[] }[];
        volumes?: { name: string; hostPath?: { path: string } }[];
      };
    };
  };
};

function workloads(objects: KubeObject[]): (KubeObject & PodTemplate)[] {
  return objects.filter((o) => o.kind === 'Deployment' || o.kind === 'DaemonSet') as (KubeObject &
    PodTemplate)[];
}

describe.skipIf(!hasBinary('helm'))('the chart rendered by helm', () => {
  let dir: string;
  let settingsFile: string;
  let defaults: KubeObject[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lh-helm-chart-'));
    settingsFile = join(dir, 'every-setting.yaml');
    await writeFile(settingsFile, stringify({ defaultSettings: everySettingValues() }));
    defaults = await template();
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('passes helm lint with its defaults and with every value set', async () => {
    const out = await helm(['lint', CHART_DIR, '-n', NAMESPACE, '--strict']);
    expect(out).toContain('1 chart(s) linted, 0 chart(s) failed');
    const all = await helm([
      'lint',
      CHART_DIR,
      '-n',
      NAMESPACE,
      '--strict',
      '-f',
      ALL_VALUES,
      '-f',
      settingsFile,
    ]);
    expect(all).toContain('1 chart(s) linted, 0 chart(s) failed');
  });

  it('renders every component with its defaults', () => {
    expect(defaults.map(objectRef).sort()).toEqual(
      [
        'CSIDriver/driver.longhorn.io',
        'ClusterRole/longhorn-ts-csi-controller',
        'ClusterRole/longhorn-ts-node',
        'ClusterRole/longhorn-ts-scheduler-extender',
        'ClusterRole/longhorn-ts-webhook',
        'ClusterRoleBinding/longhorn-ts-csi-controller',
        'ClusterRoleBinding/longhorn-ts-node',
        'ClusterRoleBinding/longhorn-ts-scheduler-extender',
        'ClusterRoleBinding/longhorn-ts-webhook',
        'MutatingWebhookConfiguration/longhorn-webhook-mutator',
        'PriorityClass/longhorn-ts-critical',
        'StorageClass/longhorn',
        'ValidatingWebhookConfiguration/longhorn-webhook-validator',
        'VolumeSnapshotClass/longhorn-backup',
        'VolumeSnapshotClass/longhorn-snapshot',
        ...[
          'ConfigMap/longhorn-ts-scheduler-config',
          'DaemonSet/longhorn-ts-node',
          'Deployment/longhorn-ts-csi-controller',
          'Deployment/longhorn-ts-scheduler-extender',
          'Deployment/longhorn-ts-webhook',
          'PodDisruptionBudget/longhorn-ts-csi-controller',
          'PodDisruptionBudget/longhorn-ts-scheduler-extender',
          'PodDisruptionBudget/longhorn-ts-webhook',
          'Role/longhorn-ts-csi-controller',
          'Role/longhorn-ts-node',
          'Role/longhorn-ts-scheduler-extender',
          'Role/longhorn-ts-webhook',
          'RoleBinding/longhorn-ts-csi-controller',
          'RoleBinding/longhorn-ts-node',
          'RoleBinding/longhorn-ts-scheduler-extender',
          'RoleBinding/longhorn-ts-webhook',
          'Service/longhorn-admission-webhook',
          'Service/longhorn-ts-metrics',
          'Service/longhorn-ts-scheduler-extender',
          'ServiceAccount/longhorn-ts-csi-controller',
          'ServiceAccount/longhorn-ts-node',
          'ServiceAccount/longhorn-ts-scheduler-extender',
          'ServiceAccount/longhorn-ts-webhook',
          // The pre-delete hook's objects (helm template renders hooks too).
          'ConfigMap/longhorn-ts-uninstall-check',
          'Job/longhorn-ts-uninstall-check',
          'Role/longhorn-ts-uninstall-check',
          'RoleBinding/longhorn-ts-uninstall-check',
          'ServiceAccount/longhorn-ts-uninstall-check',
        ].map((r) => `${NAMESPACE}/${r}`),
      ].sort(),
    );
  });

  it('matches the webhook configurations webhooks/src builds, but for the CA bundle the server writes', () => {
    const endpoint = { service: { namespace: NAMESPACE, name: 'longhorn-admission-webhook', port: 9502 } };
    const withoutCa = (c: { webhooks?: { clientConfig: { caBundle?: string } }[] }) =>
      c.webhooks?.map(({ clientConfig: { caBundle: _, ...clientConfig }, ...w }) => ({ ...w, clientConfig }));
    const validating = validatingConfiguration({ endpoint, caBundle: '' });
    const mutating = mutatingConfiguration({ endpoint, caBundle: '' });
    expect(
      findObject(defaults, 'ValidatingWebhookConfiguration', validating.metadata!.name!).webhooks,
    ).toEqual(withoutCa(validating));
    expect(findObject(defaults, 'MutatingWebhookConfiguration', mutating.metadata!.name!).webhooks).toEqual(
      withoutCa(mutating),
    );
  });

  it('matches the CSIDriver of csi/src and the extender stanza of scheduler-extender/src', () => {
    const driver = findObject(defaults, 'CSIDriver', 'driver.longhorn.io');
    const expected = csiDriverObject();
    expect({ ...driver, metadata: { name: driver.metadata.name } }).toEqual(expected);
    const config = findObject<{ data: Record<string, string> }>(
      defaults,
      'ConfigMap',
      'longhorn-ts-scheduler-config',
    );
    const scheduler = parse(config.data['scheduler-config.yaml'] ?? '') as { extenders: unknown[] };
    expect(scheduler.extenders).toEqual([
      extenderStanza({ urlPrefix: `http://longhorn-ts-scheduler-extender.${NAMESPACE}.svc:8095` }),
    ]);
  });

  it("lets the operator's Role reach every longhorn.io kind and its status", () => {
    const role = findObject<{ rules: { apiGroups: string[]; resources: string[] }[] }>(
      defaults,
      'Role',
      'longhorn-ts-node',
    );
    const longhorn = role.rules.find((r) => r.apiGroups.includes('longhorn.io'));
    const plurals = longhornCrds().map((c) => c.spec.names.plural);
    expect([...(longhorn?.resources ?? [])].sort()).toEqual(
      plurals.flatMap((p) => [p, `${p}/status`]).sort(),
    );
  });

  it('makes only the CSI node plugin privileged, and every pod critical', () => {
    const privileged = workloads(defaults).flatMap((w) =>
      w.spec.template.spec.containers
        .filter((c) => c.securityContext?.privileged)
        .map((c) => `${w.metadata.name}/${c.name}`),
    );
    expect(privileged).toEqual(['longhorn-ts-node/csi-plugin']);
    for (const w of workloads(defaults))
      expect(w.spec.template.spec.priorityClassName).toBe('longhorn-ts-critical');
    expect(defaults.filter((o) => o.kind === 'Setting')).toEqual([]);
  });

  it('leaves node pods to be replaced by hand (OnDelete) unless RollingUpdate is asked for', async () => {
    // A node pod holds the engines and FUSE/loop attachments of its node's volumes: on a real
    // node a rolling update broke the mounted volume (EIO, ext4 read-only; images/REAL-NODE.md).
    const strategy = (objects: KubeObject[]) =>
      findObject<{ spec: { updateStrategy: unknown } }>(objects, 'DaemonSet', 'longhorn-ts-node').spec
        .updateStrategy;
    expect(strategy(defaults)).toEqual({ type: 'OnDelete' });
    expect(strategy(await template(['--set', 'node.maxUnavailable=2']))).toEqual({ type: 'OnDelete' });
    // Unset, as under `helm upgrade --reuse-values` from a release made before the value existed.
    expect(strategy(await template(['--set', 'node.updateStrategy=null']))).toEqual({ type: 'OnDelete' });
    expect(strategy(await template(['--set', 'node.updateStrategy=RollingUpdate']))).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: 1 },
    });
    expect(await refusal(template(['--set', 'node.updateStrategy=Recreate']))).toMatch(
      /at '\/node\/updateStrategy'.*value must be one of 'OnDelete', 'RollingUpdate'/,
    );
  });

  it("runs the pre-delete check's Job where the CSI controller runs", async () => {
    // On the real node's cluster an unplaced Job landed on a kwok node, which reported it
    // Completed without running it: helm uninstall went ahead with a volume attached.
    type Placed = { spec: { template: { spec: { nodeSelector?: unknown; tolerations?: unknown } } } };
    const all = await template(['-f', ALL_VALUES]);
    const job = findObject<Placed>(all, 'Job', 'longhorn-ts-uninstall-check').spec.template.spec;
    const controller = findObject<Placed>(all, 'Deployment', 'longhorn-ts-csi-controller').spec.template.spec;
    expect(job.nodeSelector).toEqual({ 'node-role.kubernetes.io/control-plane': '' });
    expect(job.nodeSelector).toEqual(controller.nodeSelector);
    expect(job.tolerations).toEqual(controller.tolerations);
    const byDefault = findObject<Placed>(defaults, 'Job', 'longhorn-ts-uninstall-check').spec.template.spec;
    expect(byDefault.nodeSelector).toBeUndefined();
  });

  it('has a value in ci/all-values.yaml for every documented key', () => {
    const documented = parse(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as Record<string, unknown>;
    const { defaultSettings, ...rest } = documented;
    expect(Object.keys((defaultSettings as object | null) ?? {}).sort()).toEqual(
      chartSettingNames().map(settingValueKey).sort(),
    );
    expect(unsetPaths(rest, parse(readFileSync(ALL_VALUES, 'utf8')))).toEqual([]);
  });

  it('renders every value and every setting where it belongs', async () => {
    const all = await template(['-f', ALL_VALUES, '-f', settingsFile]);
    const settings = all.filter((o) => o.kind === 'Setting') as (KubeObject & { value: string })[];
    expect(settings.length).toBe(Object.keys(everySettingValues()).length);
    for (const s of settings)
      expect(validateSetting(s.metadata.name, s.value), s.metadata.name).toEqual({ ok: true });
    expect(settings.find((s) => s.metadata.name === 'default-replica-count')?.value).toBe('3');
    expect(settings.find((s) => s.metadata.name === 'auto-salvage')?.value).toBe('true');

    const sc = findObject<{
      metadata: { annotations: Record<string, string> };
      parameters: Record<string, string>;
    }>(all, 'StorageClass', 'longhorn');
    expect(sc.metadata.annotations['storageclass.kubernetes.io/is-default-class']).toBe('false');
    expect(sc.parameters).toMatchObject({
      numberOfReplicas: '2',
      dataLocality: 'best-effort',
      fsType: 'xfs',
    });
    expect(findObject(all, 'ServiceMonitor', 'longhorn-ts').metadata.labels).toMatchObject({
      release: 'prometheus',
    });
    expect(findObject(all, 'VolumeSnapshotClass', 'longhorn-backup')).toMatchObject({
      deletionPolicy: 'Retain',
      parameters: { type: 'bak' },
    });
    const ds = findObject<PodTemplate>(all, 'DaemonSet', 'longhorn-ts-node');
    const volumes = Object.fromEntries(
      (ds.spec.template.spec.volumes ?? []).map((v) => [v.name, v.hostPath?.path]),
    );
    expect(volumes).toMatchObject({
      data: '/data/longhorn',
      'plugin-dir': '/var/snap/microk8s/common/var/lib/kubelet/plugins/driver.longhorn.io',
      'registration-dir': '/var/snap/microk8s/common/var/lib/kubelet/plugins_registry',
    });
    const scheduler = findObject<PodTemplate>(all, 'Deployment', 'longhorn-ts-scheduler');
    expect(scheduler.spec.template.spec.containers[0]?.command).toEqual([
      'kube-scheduler',
      '--config=/etc/longhorn-ts/scheduler-config.yaml',
    ]);
    expect(
      findObject(all, 'RoleBinding', 'longhorn-ts-scheduler-authentication-reader').metadata.namespace,
    ).toBe('kube-system');
    const operator = ds.spec.template.spec.containers.find((c) => c.name === 'operator');
    expect(operator?.command).toContain('$(POD_IP):8600');
    expect(operator?.command).toContain('0.0.0.0:9600');
    for (const w of workloads(all)) {
      expect(w.spec.template.spec.priorityClassName).toBe('storage-critical');
      expect(w.metadata.labels).toMatchObject({ team: 'storage' });
    }
  });

  it('leaves out what is switched off', async () => {
    const off = await template([
      '--set',
      'webhook.enabled=false,schedulerExtender.enabled=false,persistence.createStorageClass=false',
      '--set',
      'volumeSnapshotClasses.create=false,podDisruptionBudgets.enabled=false,priorityClass.create=false',
      '--set',
      'uninstall.preDeleteCheck=false',
    ]);
    const kinds = new Set(off.map((o) => o.kind));
    for (const kind of [
      'ValidatingWebhookConfiguration',
      'MutatingWebhookConfiguration',
      'StorageClass',
      'VolumeSnapshotClass',
      'PodDisruptionBudget',
      'PriorityClass',
      'ConfigMap',
      'Job',
    ]) {
      expect(kinds.has(kind), kind).toBe(false);
    }
    expect(
      workloads(off)
        .map((w) => w.metadata.name)
        .sort(),
    ).toEqual(['longhorn-ts-csi-controller', 'longhorn-ts-node']);
  });

  it('writes whole numbers from a values file as integers', async () => {
    const file = join(dir, 'numbers.yaml');
    await writeFile(
      file,
      'defaultSettings:\n  replicaReplenishmentWaitInterval: 1000000\n  guaranteedInstanceManagerCpu: 12.5\n',
    );
    const settings = (await template(['-f', file])).filter((o) => o.kind === 'Setting');
    expect(Object.fromEntries(settings.map((s) => [s.metadata.name, s.value]))).toEqual({
      'replica-replenishment-wait-interval': '1000000',
      'guaranteed-instance-manager-cpu': '12.5',
    });
  });

  it('refuses typos and bad values through the schema, saying which key', async () => {
    expect(await refusal(template(['--set', 'imag.pullPolicy=Always']))).toContain(
      "additional properties 'imag' not allowed",
    );
    expect(await refusal(template(['--set', 'node.dataPth=/data']))).toMatch(
      /at '\/node'.*additional properties 'dataPth' not allowed/,
    );
    expect(await refusal(template(['--set', 'defaultSettings.defaultReplicaCnt=2']))).toMatch(
      /at '\/defaultSettings'.*additional properties 'defaultReplicaCnt' not allowed/,
    );
    expect(await refusal(template(['--set', 'defaultSettings.defaultReplicaCount=21']))).toMatch(
      /at '\/defaultSettings\/defaultReplicaCount'.*maximum/,
    );
    expect(await refusal(template(['--set', 'persistence.defaultFsType=btrfs']))).toMatch(
      /at '\/persistence\/defaultFsType'.*value must be one of 'ext4', 'xfs'/,
    );
    expect(await refusal(template(['--set', 'node.dataPath=relative/path']))).toMatch(
      /at '\/node\/dataPath'/,
    );
  });

  it('refuses a namespace other than longhorn-system while the extender is on, saying why', async () => {
    expect(await refusal(template([], 'storage'))).toContain(
      "the scheduler extender reads Longhorn's objects in longhorn-system",
    );
    const elsewhere = await template(['--set', 'schedulerExtender.enabled=false'], 'storage');
    expect(findObject(elsewhere, 'DaemonSet', 'longhorn-ts-node').metadata.namespace).toBe('storage');
  });
});
