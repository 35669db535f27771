/**
 * Process entry of one node's operator:
 *   node operator/dist/main.js --instance-manager HOST:PORT [--metrics HOST:PORT] [--namespace NS]
 * with NODE_NAME, NODE_IP, NODE_ZONE, NODE_REGION, NODE_DATA_DIR and KUBECONFIG in the
 * environment. Prints one JSON line {node, metrics, pid} once its caches have synced;
 * SIGTERM stops it cleanly (queues drained of new work, lease released, exit 0).
 */

import { parseArgs } from 'node:util';
import {
  CoordinationV1Api,
  CoreV1Api,
  type KubernetesListObject,
  type KubernetesObject,
  makeInformer,
  type V1Lease,
  type V1Node,
} from '@kubernetes/client-node';
import {
  type Backup,
  type BackupTarget,
  type BackupVolume,
  type Engine,
  type InstanceManager,
  NAMESPACE,
  type Node,
  type Replica,
  type Setting,
  type Snapshot,
  type Volume,
  type VolumeAttachment,
} from '@longhorn-ts/api';
import { InstanceManagerClient } from '@longhorn-ts/dataplane/instance-manager/client';
import { announceReady } from '@longhorn-ts/dataplane/process/entry-point';
import { BoundedKubeConfig } from '@longhorn-ts/kube-runtime';
import { BackupJobs } from './backup/backup-jobs.js';
import { apiRestoreTargets } from './backup/restore-target.js';
import { apiSecretReader, type TargetReader } from './backup/target-access.js';
import { BACKUP_CONTROLLER, BackupController } from './controllers/backup-controller.js';
import { BACKUP_TARGET_CONTROLLER, BackupTargetController } from './controllers/backup-target-controller.js';
import { BACKUP_VOLUME_CONTROLLER, BackupVolumeController } from './controllers/backup-volume-controller.js';
import { CLONE_CONTROLLER, CloneController } from './controllers/clone-controller.js';
import { type Cache, type Caches, type ControllerContext, keyOf } from './controllers/context.js';
import {
  DATA_KEY_ROTATION_CONTROLLER,
  DataKeyRotationController,
} from './controllers/data-key-rotation-controller.js';
import { Dispatcher } from './controllers/dispatcher.js';
import { ENGINE_CONTROLLER, EngineController } from './controllers/engine-controller.js';
import { KEK_ROTATION_CONTROLLER, KekRotationController } from './controllers/kek-rotation-controller.js';
import { LeaseRenewer, LivenessTracker } from './controllers/liveness.js';
import { NODE_CONTROLLER, NodeController } from './controllers/node-controller.js';
import { REPLICA_CONTROLLER, ReplicaController } from './controllers/replica-controller.js';
import { RESTORE_CONTROLLER, RestoreController } from './controllers/restore-controller.js';
import {
  installDefaultSettings,
  SETTING_CONTROLLER,
  SettingController,
} from './controllers/setting-controller.js';
import { SettingsStore } from './controllers/settings-store.js';
import { SNAPSHOT_CONTROLLER, SnapshotController } from './controllers/snapshot-controller.js';
import { VOLUME_CONTROLLER, VolumeController } from './controllers/volume-controller.js';
import {
  VOLUME_EVICTION_CONTROLLER,
  VolumeEvictionController,
} from './controllers/volume-eviction-controller.js';
import { VolumeKeyStore } from './encryption/volume-key-store.js';
import { ReplicaServers } from './instances/replica-servers.js';
import { EventRecorder } from './k8s/events.js';
import { KINDS, type KindType } from './k8s/kinds.js';
import { LonghornClient } from './k8s/longhorn-client.js';
import { componentLogger } from './logging.js';
import { buildRegistry, serveMetrics } from './metrics/collector.js';
import { systemClock } from './runtime/clock.js';
import { customObjectInformer, ResilientInformer } from './runtime/informer.js';
import { type Reconcile, runWorkers, WorkQueue } from './runtime/work-queue.js';

function env(name: string, fallback?: string): string {
  const v = process.env[name];
  if (v !== undefined && v !== '') return v;
  if (fallback !== undefined) return fallback;
  throw new Error(`${name} must be set`);
}

function splitHostPort(value: string, flag: string): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  const port = Number(value.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${flag} ${JSON.stringify(value)}: expected HOST:PORT`);
  }
  return { host: value.slice(0, i), port };
}

const { values } = parseArgs({
  options: {
    'instance-manager': { type: 'string' },
    metrics: { type: 'string' },
    namespace: { type: 'string', default: NAMESPACE },
  },
  strict: true,
});
const node = env('NODE_NAME');
const ip = env('NODE_IP', '127.0.0.1');
const instanceManager = values['instance-manager'] ?? env('INSTANCE_MANAGER_ADDRESS');
const namespace = values.namespace ?? NAMESPACE;
const metricsAt = splitHostPort(values.metrics ?? `${ip}:0`, '--metrics');
splitHostPort(instanceManager, '--instance-manager');

const log = componentLogger('operator', { node });
const clock = systemClock;
const kubeConfig = new BoundedKubeConfig();
kubeConfig.loadFromDefault();

process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));

await ensureNamespace();

const dispatcher = new Dispatcher();
/** An informer over one Longhorn kind; its objects are typed as T (the API's JSON, timestamps as strings). */
function crInformer<T>(kind: string, type: KindType): ResilientInformer<KubernetesObject> & Cache<T> {
  return new ResilientInformer<KubernetesObject>({
    name: type.plural,
    create: () => customObjectInformer<KubernetesObject>(kubeConfig, type, namespace),
    enqueue: (k) => {
      dispatcher.enqueue(k);
      onEvent(kind);
    },
    keysOf: dispatcher.keysOf(kind),
    logger: log,
  }) as unknown as ResilientInformer<KubernetesObject> & Cache<T>;
}
const core = kubeConfig.makeApiClient(CoreV1Api);
const coordination = kubeConfig.makeApiClient(CoordinationV1Api);
const k8sNodes = new ResilientInformer<V1Node>({
  name: 'k8s-nodes',
  create: () =>
    makeInformer<V1Node>(
      kubeConfig,
      '/api/v1/nodes',
      async () => (await core.listNode()) as KubernetesListObject<V1Node>,
    ),
  enqueue: (k) => {
    dispatcher.enqueue(k);
    onEvent('K8sNode');
  },
  keysOf: dispatcher.keysOf('K8sNode'),
  logger: log,
});
const leases = new ResilientInformer<V1Lease>({
  name: 'leases',
  create: () =>
    makeInformer<V1Lease>(
      kubeConfig,
      `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
      async () => (await coordination.listNamespacedLease({ namespace })) as KubernetesListObject<V1Lease>,
    ),
  enqueue: () => onEvent('Lease'),
  keysOf: (l) => [l.metadata?.name ?? ''],
  logger: log,
});

const caches: Caches = {
  volumes: crInformer<Volume>('Volume', KINDS.volume),
  engines: crInformer<Engine>('Engine', KINDS.engine),
  replicas: crInformer<Replica>('Replica', KINDS.replica),
  nodes: crInformer<Node>('Node', KINDS.node),
  snapshots: crInformer<Snapshot>('Snapshot', KINDS.snapshot),
  settings: crInformer<Setting>('Setting', KINDS.setting),
  volumeAttachments: crInformer<VolumeAttachment>('VolumeAttachment', KINDS.volumeAttachment),
  instanceManagers: crInformer<InstanceManager>('InstanceManager', KINDS.instanceManager),
  backupTargets: crInformer<BackupTarget>('BackupTarget', KINDS.backupTarget),
  backupVolumes: crInformer<BackupVolume>('BackupVolume', KINDS.backupVolume),
  backups: crInformer<Backup>('Backup', KINDS.backup),
  k8sNodes,
  leases,
};

const liveness = new LivenessTracker(
  node,
  { leases: () => leases.list(namespace), k8sNodes: () => k8sNodes.list() },
  clock,
  () => {
    // Ownership may move: every object is looked at again.
    for (const k of nodeController.allKeys()) dispatcher.add(NODE_CONTROLLER, k);
    for (const k of volumeController.allKeys()) dispatcher.add(VOLUME_CONTROLLER, k);
    for (const e of caches.engines.list(namespace))
      dispatcher.add(ENGINE_CONTROLLER, keyOf(ctx, e.metadata.name));
    for (const r of caches.replicas.list(namespace))
      dispatcher.add(REPLICA_CONTROLLER, keyOf(ctx, r.metadata.name));
    for (const s of caches.snapshots.list(namespace))
      dispatcher.add(SNAPSHOT_CONTROLLER, keyOf(ctx, s.metadata.name));
    for (const k of backupTargetController.allKeys()) dispatcher.add(BACKUP_TARGET_CONTROLLER, k);
    for (const k of backupController.allKeys()) dispatcher.add(BACKUP_CONTROLLER, k);
    for (const k of backupVolumeController.allKeys()) dispatcher.add(BACKUP_VOLUME_CONTROLLER, k);
  },
  log,
);

let synced = false;
function onEvent(kind: string): void {
  if (synced && (kind === 'Lease' || kind === 'K8sNode')) liveness.refresh();
}

const client = new LonghornClient(kubeConfig, namespace);
const ctx: ControllerContext = {
  id: {
    node,
    ip,
    zone: env('NODE_ZONE', ''),
    region: env('NODE_REGION', ''),
    dataDir: env('NODE_DATA_DIR'),
    namespace,
    instanceManager,
  },
  caches,
  client,
  events: new EventRecorder(kubeConfig, 'longhorn-ts-operator', node, clock, log),
  settings: new SettingsStore({ get: (name) => caches.settings.get(name, namespace) }),
  liveness,
  dispatcher,
  clock,
  log,
};

const im = new InstanceManagerClient(instanceManager);
const replicaServers = new ReplicaServers(im, ip, log.child({ component: 'replica-servers' }));
const settingController = new SettingController(ctx);
const nodeController = new NodeController(ctx);
const replicaController = new ReplicaController(ctx, replicaServers);
const volumeKeys = new VolumeKeyStore(core, namespace);
const engineController = new EngineController(ctx, im, volumeKeys);
const volumeController = new VolumeController(ctx);
const snapshotController = new SnapshotController(ctx, engineController);
const cloneController = new CloneController(ctx, engineController, volumeKeys);
const restoreController = new RestoreController(
  ctx,
  engineController,
  apiRestoreTargets(kubeConfig, namespace),
  volumeKeys,
);
const volumeEvictionController = new VolumeEvictionController(ctx);
const kekRotationController = new KekRotationController(ctx, volumeKeys);
const dataKeyRotationController = new DataKeyRotationController(ctx, volumeKeys, engineController);
const backupTargetReader: TargetReader = {
  backupTarget: async (name) => caches.backupTargets.get(name, namespace),
  secret: apiSecretReader(kubeConfig, namespace),
};
const backupJobs = new BackupJobs();
const backupTargetController = new BackupTargetController(ctx, backupTargetReader);
const backupController = new BackupController(
  ctx,
  backupTargetReader,
  backupJobs,
  backupTargetController,
  volumeKeys,
);
const backupVolumeController = new BackupVolumeController(ctx, backupTargetReader, backupTargetController);

const controllers: Array<{ name: string; reconcile: Reconcile; workers: number }> = [
  { name: SETTING_CONTROLLER, reconcile: (k) => settingController.reconcile(k), workers: 1 },
  { name: NODE_CONTROLLER, reconcile: (k) => nodeController.reconcile(k), workers: 1 },
  { name: REPLICA_CONTROLLER, reconcile: (k) => replicaController.reconcile(k), workers: 4 },
  { name: ENGINE_CONTROLLER, reconcile: (k) => engineController.reconcile(k), workers: 4 },
  { name: VOLUME_CONTROLLER, reconcile: (k) => volumeController.reconcile(k), workers: 4 },
  { name: SNAPSHOT_CONTROLLER, reconcile: (k) => snapshotController.reconcile(k), workers: 2 },
  { name: CLONE_CONTROLLER, reconcile: (k) => cloneController.reconcile(k), workers: 2 },
  { name: RESTORE_CONTROLLER, reconcile: (k) => restoreController.reconcile(k), workers: 2 },
  { name: VOLUME_EVICTION_CONTROLLER, reconcile: (k) => volumeEvictionController.reconcile(k), workers: 1 },
  { name: KEK_ROTATION_CONTROLLER, reconcile: (k) => kekRotationController.reconcile(k), workers: 1 },
  {
    name: DATA_KEY_ROTATION_CONTROLLER,
    reconcile: (k) => dataKeyRotationController.reconcile(k),
    workers: 1,
  },
  { name: BACKUP_TARGET_CONTROLLER, reconcile: (k) => backupTargetController.reconcile(k), workers: 2 },
  { name: BACKUP_CONTROLLER, reconcile: (k) => backupController.reconcile(k), workers: 4 },
  { name: BACKUP_VOLUME_CONTROLLER, reconcile: (k) => backupVolumeController.reconcile(k), workers: 2 },
];
const queues = controllers.map((c) => {
  const queue = new WorkQueue({ clock });
  dispatcher.addQueue(c.name, queue);
  return { ...c, queue };
});

const renewer = new LeaseRenewer(kubeConfig, namespace, node, clock, log);
await renewer.start();

const informers = Object.values(caches) as unknown as ResilientInformer<KubernetesObject>[];
await Promise.all(informers.map((i) => i.start()));
await Promise.all(informers.map((i) => i.waitForSync()));
synced = true;
liveness.refresh();

await installDefaultSettings(ctx).catch((err: unknown) => log.warn({ err }, 'default settings'));
dispatcher.add(NODE_CONTROLLER, keyOf(ctx, node));

const workers = queues.map((q) =>
  runWorkers(q.queue, q.reconcile, { workers: q.workers, logger: log.child({ controller: q.name }) }),
);

const metrics = await serveMetrics(
  buildRegistry({ node, namespace, caches }),
  metricsAt.host,
  metricsAt.port,
);
announceReady({ node, metrics: metrics.address, pid: process.pid });
log.info({ metrics: metrics.address, instanceManager }, 'operator ready');

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'operator stopping');
  const hardStop = setTimeout(() => process.exit(0), 10_000);
  hardStop.unref();
  for (const q of queues) q.queue.shutDown();
  // Running backups stop here; their CRs stay InProgress and the next operator runs them again.
  await backupJobs.cancelAll('the operator is stopping');
  liveness.stop();
  await renewer.stop(true);
  await Promise.allSettled(informers.map((i) => i.stop()));
  await Promise.race([Promise.allSettled(workers), new Promise((r) => setTimeout(r, 5_000))]);
  engineController.close();
  await replicaServers.close();
  im.close();
  metrics.server.close();
  process.exit(0);
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));

/** The namespace exists (made if not). An API server still starting (429, a timeout) is asked again for 2 min. */
async function ensureNamespace(): Promise<void> {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  const giveUpAt = Date.now() + 120_000;
  for (let delay = 500; ; delay = Math.min(delay * 2, 5_000)) {
    try {
      await api.readNamespace({ name: namespace });
      return;
    } catch {
      try {
        await api.createNamespace({ body: { metadata: { name: namespace } } });
        return;
      } catch (err) {
        if ((err as { code?: number }).code === 409) return;
        if (Date.now() >= giveUpAt) throw err;
        log.warn({ err: (err as Error).message, namespace }, 'namespace not ensured yet; trying again');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }
}
