/**
 * The Helm chart on a real control plane (kube-apiserver, controller-manager, scheduler; kwok
 * nodes). The cluster is started bare, without the host-process longhorn-ts the local mode runs,
 * so the chart's cluster-wide objects (CSIDriver, StorageClass, webhook configurations) clash
 * with nothing. kwok plays the kubelet: it marks scheduled pods Running and Ready without pulling
 * an image or running a probe, so "Ready" here means scheduled onto a node and reported ready.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { longhornCrds } from '@longhorn-ts/api';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { parse, stringify } from 'yaml';
import { CHART_DIR } from '../src/chart/chart-files.js';
import { HelmError, helm, objectRef, parseManifests, TEMPLATE_KUBE_VERSION } from '../src/chart/helm.js';
import { everySettingValues } from '../src/chart/setting-values.js';
import { installVolumeSnapshotCrds } from '../src/harness/addons.js';
import { binaryPath, hasBinary } from '../src/harness/binaries.js';
import { Cluster, stopAbandonedClusters } from '../src/harness/cluster.js';
import type { KubeObject } from '../src/harness/kubectl.js';
import { WEBHOOK_ENTRY } from '../src/harness/longhorn-webhook.js';
import { ManagedProcess } from '../src/harness/managed-process.js';
import { freePort } from '../src/harness/ports.js';
import { waitForReadyLine } from '../src/harness/ready-line.js';
import { waitFor } from '../src/harness/wait.js';

const skip = process.env.LONGHORN_TS_SKIP_K8S === '1' || !hasBinary('helm');
const NAMESPACE = 'longhorn-system';
const RELEASE = 'lh';
const NODES = 2;
const ALL_VALUES = join(CHART_DIR, 'ci', 'all-values.yaml');

/**
 * The Prometheus Operator's ServiceMonitor kind, as a stand-in without its schema (its CRD is not
 * among the parts built here): the API server then checks the object's kind, names and namespace,
 * not its spec.
 */
const SERVICE_MONITOR_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'servicemonitors.monitoring.coreos.com' },
  spec: {
    group: 'monitoring.coreos.com',
    scope: 'Namespaced',
    names: {
      kind: 'ServiceMonitor',
      listKind: 'ServiceMonitorList',
      plural: 'servicemonitors',
      singular: 'servicemonitor',
    },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
      },
    ],
  },
};

type Workload = KubeObject & {
  status?: {
    numberReady?: number;
    desiredNumberScheduled?: number;
    readyReplicas?: number;
    replicas?: number;
  };
};
type Pod = KubeObject & { spec: { nodeName?: string }; status: { phase?: string } };
type WebhookConfiguration = KubeObject & {
  webhooks: { name: string; clientConfig: { caBundle?: string; url?: string; service?: unknown } }[];
};

describe.skipIf(skip)('the Helm chart on a real control plane', () => {
  let dir: string;
  let cluster: Cluster;
  let webhookServer: ManagedProcess | undefined;
  /** The objects of the release's last deployed revision. */
  let installed: KubeObject[] = [];

  const kubeconfig = () => ({ kubeconfig: cluster.kubeconfig, timeoutMs: 150_000 });
  const helmIn = (args: string[]) => helm([...args, '-n', NAMESPACE], kubeconfig());
  const manifest = async () => parseManifests(await helmIn(['get', 'manifest', RELEASE]));

  beforeAll(async () => {
    await stopAbandonedClusters(tmpdir(), 'lh-e2e-helm-');
    dir = await mkdtemp(join(tmpdir(), 'lh-e2e-helm-'));
    cluster = await Cluster.start({ dir, nodes: NODES });
    // As with Longhorn, the VolumeSnapshot CRDs come with the snapshot-controller, not the chart.
    await installVolumeSnapshotCrds(cluster.kubectl);
    await cluster.kubectl.apply(SERVICE_MONITOR_CRD);
    await cluster.kubectl.waitForCondition('crd/servicemonitors.monitoring.coreos.com', 'Established');
  });

  afterAll(async () => {
    await webhookServer?.stop(5_000);
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function dumpLogsOnFailure(): void {
    onTestFailed(async () => {
      const pods = await cluster.kubectl
        .run(['get', 'pods', '-A', '-o', 'wide'])
        .catch((e: Error) => e.message);
      process.stderr.write(`${pods}\n${await cluster.logTails(30)}\n`);
    });
  }

  /** Names of the objects of `objects` that the API server does not have. */
  async function missing(objects: KubeObject[]): Promise<string[]> {
    // One `kubectl get -f -` for all of them: the objects it finds come back as a List.
    const out = await cluster.kubectl.run(['get', '--ignore-not-found', '-o', 'json', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
    });
    // A List, or the one object itself when only one was found.
    const parsed = out.trim() === '' ? undefined : (JSON.parse(out) as KubeObject & { items?: KubeObject[] });
    const items = parsed === undefined ? [] : parsed.kind === 'List' ? (parsed.items ?? []) : [parsed];
    const found = new Set(items.map(objectRef));
    return objects.map(objectRef).filter((ref) => !found.has(ref));
  }

  const settings =
    'defaultSettings.defaultReplicaCount=2,defaultSettings.storageOverProvisioningPercentage=200';

  it('installs: CRDs established, every object present, Settings from values, pods Running and Ready on the kwok nodes', async () => {
    dumpLogsOnFailure();
    const out = await helmIn([
      'install',
      RELEASE,
      CHART_DIR,
      '--create-namespace',
      '--set',
      settings,
      '--wait',
      '--timeout',
      '120s',
    ]);
    expect(out).toContain('STATUS: deployed');
    expect(out).toContain('kubectl -n longhorn-system get pods -l app.kubernetes.io/component=node -o wide');

    // crds/ is installed by helm before the templates.
    await cluster.kubectl.waitForCondition('crd', 'Established', {
      selector: 'app.kubernetes.io/name=longhorn-ts',
      timeoutMs: 30_000,
    });
    const crds = await cluster.kubectl.list('crd');
    for (const crd of longhornCrds()) expect(crds.map((c) => c.metadata.name)).toContain(crd.metadata.name);

    installed = await manifest();
    const rendered = parseManifests(
      await helm([
        'template',
        RELEASE,
        CHART_DIR,
        '-n',
        NAMESPACE,
        '--kube-version',
        TEMPLATE_KUBE_VERSION,
        '--no-hooks',
        '--set',
        settings,
      ]),
    );
    expect(installed.map(objectRef).sort()).toEqual(rendered.map(objectRef).sort());
    expect(await missing(installed)).toEqual([]);

    const replicaCount = await cluster.kubectl.get<{ value: string }>(
      'settings.longhorn.io',
      'default-replica-count',
      NAMESPACE,
    );
    expect(replicaCount.value).toBe('2');
    const overProvisioning = await cluster.kubectl.get<{ value: string }>(
      'settings.longhorn.io',
      'storage-over-provisioning-percentage',
      NAMESPACE,
    );
    expect(overProvisioning.value).toBe('200');

    // --wait returned: kwok reported every pod ready. One node pod per node, one pod per Deployment.
    const ds = await cluster.kubectl.get<Workload>('daemonset', 'longhorn-ts-node', NAMESPACE);
    expect(ds.status).toMatchObject({ desiredNumberScheduled: NODES, numberReady: NODES });
    for (const name of [
      'longhorn-ts-csi-controller',
      'longhorn-ts-webhook',
      'longhorn-ts-scheduler-extender',
    ]) {
      const deployment = await cluster.kubectl.get<Workload>('deployment', name, NAMESPACE);
      expect(deployment.status?.readyReplicas, name).toBe(1);
    }
    const pods = await cluster.kubectl.list<Pod>('pods', NAMESPACE);
    expect(pods.length).toBe(NODES + 3);
    for (const pod of pods) {
      expect(pod.status.phase, pod.metadata.name).toBe('Running');
      expect(cluster.nodeSpecs.map((n) => n.name)).toContain(pod.spec.nodeName);
    }
  });

  it("upgrades with the webhook server's registration in place: changes applied, removed parts deleted, the CA bundle kept", async () => {
    dumpLogsOnFailure();
    // The webhook server as a host process (kwok runs no container), registering as in a cluster:
    // the Service longhorn-admission-webhook and its own CA bundle, into the chart's configurations.
    // The API server here has no service network to reach it, and helm patches every object it
    // owns on upgrade (Settings too, which the webhook validates): this upgrade drops the Settings
    // from values instead, a delete the webhook never sees (README: upgrades need the webhook up).
    const logFile = join(dir, 'logs', 'webhooks-service-mode.log');
    webhookServer = ManagedProcess.start({
      name: 'webhooks',
      command: process.execPath,
      args: [WEBHOOK_ENTRY, '--listen', `127.0.0.1:${await freePort()}`, '--kubeconfig', cluster.kubeconfig],
      logFile,
    });
    await waitForReadyLine('the webhook server', webhookServer, ['webhook', 'pid'], { timeoutMs: 60_000 });
    const registered = await cluster.kubectl.get<WebhookConfiguration>(
      'validatingwebhookconfiguration',
      'longhorn-webhook-validator',
    );
    expect(registered.webhooks[0]?.clientConfig.caBundle).toBeTruthy();
    expect(registered.webhooks[0]?.clientConfig.service).toEqual({
      namespace: NAMESPACE,
      name: 'longhorn-admission-webhook',
      port: 9502,
      path: '/v1/webhook/validation',
    });

    const nodePods = async () =>
      (await cluster.kubectl.list<Pod>('pods', NAMESPACE))
        .map((p) => p.metadata.name)
        .filter((n) => n.startsWith('longhorn-ts-node-'))
        .sort();
    const nodePodsBefore = await nodePods();
    const out = await helmIn([
      'upgrade',
      RELEASE,
      CHART_DIR,
      '--set',
      'csi.controller.replicas=2,schedulerExtender.enabled=false,persistence.defaultClass=false,node.logLevel=debug',
      '--wait',
      '--timeout',
      '120s',
    ]);
    expect(out).toContain('REVISION: 2');
    const upgraded = await manifest();
    const removed = installed.filter((o) => !upgraded.some((u) => objectRef(u) === objectRef(o)));
    expect(removed.map(objectRef).sort()).toEqual(
      [
        'ClusterRole/longhorn-ts-scheduler-extender',
        `${NAMESPACE}/Setting/default-replica-count`,
        `${NAMESPACE}/Setting/storage-over-provisioning-percentage`,
        'ClusterRoleBinding/longhorn-ts-scheduler-extender',
        ...[
          'ConfigMap/longhorn-ts-scheduler-config',
          'Deployment/longhorn-ts-scheduler-extender',
          'PodDisruptionBudget/longhorn-ts-scheduler-extender',
          'Role/longhorn-ts-scheduler-extender',
          'RoleBinding/longhorn-ts-scheduler-extender',
          'Service/longhorn-ts-scheduler-extender',
          'ServiceAccount/longhorn-ts-scheduler-extender',
        ].map((r) => `${NAMESPACE}/${r}`),
      ].sort(),
    );
    expect(await missing(upgraded)).toEqual([]);
    expect((await missing(removed)).length).toBe(removed.length);
    installed = upgraded;

    // updateStrategy OnDelete (the default): the upgrade left the node pods alone (on a real node
    // replacing one breaks its attached volumes' mounts, images/REAL-NODE.md); deleting them, as
    // the README's procedure does node by node, brings the new template. kwok reports it ready.
    expect(await nodePods()).toEqual(nodePodsBefore);
    await cluster.kubectl.run(['-n', NAMESPACE, 'delete', 'pods', '-l', 'app.kubernetes.io/component=node']);
    const ds = await waitFor(
      'the node pods replaced with the new template',
      async () => {
        const d = await cluster.kubectl.get<
          Workload & {
            spec: { updateStrategy: { type: string } };
            status: { updatedNumberScheduled?: number };
          }
        >('daemonset', 'longhorn-ts-node', NAMESPACE);
        return d.status?.updatedNumberScheduled === NODES && d.status.numberReady === NODES ? d : undefined;
      },
      { timeoutMs: 60_000 },
    );
    expect(ds.spec.updateStrategy.type).toBe('OnDelete');
    const csi = await cluster.kubectl.get<Workload>('deployment', 'longhorn-ts-csi-controller', NAMESPACE);
    expect(csi.status?.readyReplicas).toBe(2);
    const sc = await cluster.kubectl.get<KubeObject>('storageclass', 'longhorn');
    expect(
      (sc.metadata.annotations as Record<string, string>)['storageclass.kubernetes.io/is-default-class'],
    ).toBe('false');
    // Helm's three-way merge left the server's CA bundle where the server wrote it.
    const after = await cluster.kubectl.get<WebhookConfiguration>(
      'validatingwebhookconfiguration',
      'longhorn-webhook-validator',
    );
    expect(after.webhooks.map((w) => w.clientConfig)).toEqual(registered.webhooks.map((w) => w.clientConfig));
  });

  it('uninstalls with the webhook server gone, leaving nothing but the CRDs', async () => {
    dumpLogsOnFailure();
    await webhookServer?.stop(5_000);
    webhookServer = undefined;
    const out = await helmIn(['uninstall', RELEASE, '--wait', '--timeout', '120s']);
    expect(out).toContain(`release "${RELEASE}" uninstalled`);
    expect((await missing(installed)).length).toBe(installed.length);
    await waitFor(
      'the release pods to be gone',
      async () => ((await cluster.kubectl.list('pods', NAMESPACE)).length === 0 ? true : undefined),
      { timeoutMs: 60_000 },
    );
    expect(await cluster.kubectl.list('settings.longhorn.io', NAMESPACE)).toEqual([]);
    // The pre-delete hook ran (kwok completed its Job's pod) and its objects were deleted after it.
    for (const kind of ['job', 'configmap', 'serviceaccount', 'role', 'rolebinding']) {
      expect(
        await cluster.kubectl.tryGet(kind, 'longhorn-ts-uninstall-check', NAMESPACE),
        kind,
      ).toBeUndefined();
    }
    expect((await helm(['list', '-A', '-q'], kubeconfig())).trim()).toBe('');
    // Kept on purpose: deleting them would delete every volume's objects.
    const crds = (await cluster.kubectl.list('crd')).map((c) => c.metadata.name);
    for (const crd of longhornCrds()) expect(crds).toContain(crd.metadata.name);
  });

  it('renders objects the API server accepts (server-side dry run), with defaults and with every value and setting', async () => {
    dumpLogsOnFailure();
    const settingsFile = join(dir, 'every-setting.yaml');
    await writeFile(settingsFile, stringify({ defaultSettings: everySettingValues() }));
    for (const extra of [[], ['-f', ALL_VALUES, '-f', settingsFile]]) {
      const rendered = await helm([
        'template',
        RELEASE,
        CHART_DIR,
        '-n',
        NAMESPACE,
        '--include-crds',
        '--kube-version',
        TEMPLATE_KUBE_VERSION,
        ...extra,
      ]);
      const objects = parseManifests(rendered);
      const out = await cluster.kubectl.run(['apply', '--dry-run=server', '-o', 'name', '-f', '-'], {
        input: rendered,
      });
      const accepted = out.trim().split('\n');
      expect(accepted.length, `${extra.join(' ')}: ${out}`).toBe(objects.length);
      if (extra.length > 0) {
        expect(objects.filter((o) => o.kind === 'Setting').length).toBe(
          Object.keys(everySettingValues()).length,
        );
        expect(accepted).toContain('servicemonitor.monitoring.coreos.com/longhorn-ts');
      }
    }
    // Nothing was created by the dry runs.
    expect(await cluster.kubectl.tryGet('daemonset', 'longhorn-ts-node', NAMESPACE)).toBeUndefined();
  });

  it("runs the chart's second-scheduler configuration in the real kube-scheduler: it leads and places a pod", async () => {
    dumpLogsOnFailure();
    // The ConfigMap's KubeSchedulerConfiguration (every value set: scheduler on, profile
    // longhorn-ts-placement) given to the harness's kube-scheduler binary, which reaches this API
    // server by kubeconfig instead of the pod's ServiceAccount. The extender's Service is not
    // reachable here; the stanza is ignorable, so pods are placed without it.
    const rendered = parseManifests(
      await helm([
        'template',
        RELEASE,
        CHART_DIR,
        '-n',
        NAMESPACE,
        '--kube-version',
        TEMPLATE_KUBE_VERSION,
        '-f',
        ALL_VALUES,
      ]),
    );
    const config = rendered.find(
      (o) => o.kind === 'ConfigMap' && o.metadata.name === 'longhorn-ts-scheduler-config',
    ) as (KubeObject & { data: Record<string, string> }) | undefined;
    const configuration = parse(config?.data['scheduler-config.yaml'] ?? '') as Record<string, unknown>;
    expect(configuration.profiles).toEqual([{ schedulerName: 'longhorn-ts-placement' }]);
    const configFile = join(dir, 'chart-scheduler.yaml');
    await writeFile(
      configFile,
      stringify({ ...configuration, clientConnection: { kubeconfig: cluster.kubeconfig } }),
    );
    const scheduler = ManagedProcess.start({
      name: 'chart-kube-scheduler',
      command: binaryPath('kube-scheduler'),
      args: [
        `--config=${configFile}`,
        `--authentication-kubeconfig=${cluster.kubeconfig}`,
        `--authorization-kubeconfig=${cluster.kubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${await freePort()}`,
        `--cert-dir=${join(dir, 'run', 'chart-kube-scheduler')}`,
      ],
      logFile: join(dir, 'logs', 'chart-kube-scheduler.log'),
    });
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'placed-by-chart-scheduler', namespace: 'default' },
      spec: { schedulerName: 'longhorn-ts-placement', containers: [{ name: 'app', image: 'busybox' }] },
    };
    try {
      await cluster.kubectl.waitForObject('lease', 'longhorn-ts-scheduler', () => true, {
        namespace: NAMESPACE,
        timeoutMs: 60_000,
      });
      await cluster.kubectl.apply(pod);
      const placed = await cluster.kubectl.waitForObject<Pod>(
        'pod',
        pod.metadata.name,
        (p) => p.spec.nodeName !== undefined,
        { namespace: 'default', timeoutMs: 60_000 },
      );
      expect(cluster.nodeSpecs.map((n) => n.name)).toContain(placed.spec.nodeName);
    } finally {
      await cluster.kubectl.delete(pod, { wait: false });
      await scheduler.stop(5_000);
      await cluster.kubectl.run([
        'delete',
        'lease',
        'longhorn-ts-scheduler',
        '-n',
        NAMESPACE,
        '--ignore-not-found',
      ]);
    }
  });

  it("runs the pre-delete check with the hook's own RBAC: refused while a Volume exists, allowed with Longhorn's flag or none", async () => {
    dumpLogsOnFailure();
    // kwok runs no container, so the script the hook's Job runs is run here, as that Job's
    // ServiceAccount (its Role from the chart, a token from the API server).
    const rendered = parseManifests(
      await helm(['template', RELEASE, CHART_DIR, '-n', NAMESPACE, '--kube-version', TEMPLATE_KUBE_VERSION]),
    );
    const access = rendered.filter(
      (o) =>
        o.metadata.name === 'longhorn-ts-uninstall-check' &&
        ['ServiceAccount', 'Role', 'RoleBinding'].includes(o.kind),
    );
    expect(access.length).toBe(3);
    await cluster.kubectl.apply(access);
    const volume = {
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'Volume',
      metadata: { name: 'keep-me', namespace: NAMESPACE },
      spec: { size: '1073741824', numberOfReplicas: 1 },
    };
    const flag = {
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'Setting',
      metadata: { name: 'deleting-confirmation-flag', namespace: NAMESPACE },
      value: 'true',
    };
    const tokenFile = join(dir, 'uninstall-check.token');
    await writeFile(
      tokenFile,
      await cluster.kubectl.run(['create', 'token', 'longhorn-ts-uninstall-check', '-n', NAMESPACE]),
    );
    const check = () =>
      new Promise<{ code: number; out: string }>((resolve) => {
        execFile(
          process.execPath,
          [join(CHART_DIR, 'files', 'uninstall-check.mjs')],
          {
            env: {
              ...process.env,
              NAMESPACE,
              LONGHORN_TS_API: cluster.apiServer,
              LONGHORN_TS_TOKEN_FILE: tokenFile,
              LONGHORN_TS_CA_FILE: join(dir, 'pki', 'ca.crt'),
            },
            timeout: 30_000,
          },
          (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? -1) : 0, out: stdout + stderr }),
        );
      });
    try {
      await cluster.kubectl.apply(volume);
      const refused = await check();
      expect(refused.out).toContain('refusing to uninstall: 1 Volume(s) exist (keep-me)');
      expect(refused.code).toBe(1);
      await cluster.kubectl.apply(flag);
      const confirmed = await check();
      expect(confirmed.out).toContain(
        '1 Volume(s) left and deleting-confirmation-flag is true: uninstalling',
      );
      expect(confirmed.code).toBe(0);
      await cluster.kubectl.delete([volume, flag]);
      const empty = await check();
      expect(empty).toEqual({ code: 0, out: 'no longhorn.io Volumes: uninstalling\n' });
    } finally {
      await cluster.kubectl.delete([volume, flag, ...access]);
    }
  });

  it('refuses a values typo through the schema before installing anything', async () => {
    dumpLogsOnFailure();
    const err = await helmIn(['install', RELEASE, CHART_DIR, '--set', 'persistence.defaultClas=false']).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HelmError);
    expect((err as HelmError).stderr).toContain("values don't meet the specifications of the schema(s)");
    expect((err as HelmError).stderr).toContain(
      "at '/persistence': additional properties 'defaultClas' not allowed",
    );
    expect((await helm(['list', '-A', '-q'], kubeconfig())).trim()).toBe('');
    expect(await cluster.kubectl.tryGet('csidriver', 'driver.longhorn.io')).toBeUndefined();
  });
});
