import { readdirSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createClusterPki } from './certificates.js';
import {
  type ClusterState,
  readClusterState,
  removeClusterState,
  writeClusterState,
} from './cluster-state.js';
import { startEtcd } from './etcd.js';
import { releaseHostResources } from './host-cleanup.js';
import { startKubeApiserver } from './kube-apiserver.js';
import { startKubeControllerManager } from './kube-controller-manager.js';
import { type SchedulerConfiguration, startKubeScheduler } from './kube-scheduler.js';
import { writeKubeconfig } from './kubeconfig.js';
import { Kubectl } from './kubectl.js';
import { VOLUMES_MOUNTED_ANNOTATION } from './kubelet-standin-plan.js';
import { startKubeletStandin } from './kubelet-standin-process.js';
import { startKwok } from './kwok.js';
import {
  configureLocalBackupTarget,
  localBackupstoreAvailable,
  localBackupstoreInfo,
  startLocalBackupstore,
} from './local-backupstore.js';
import { harnessLogger } from './logging.js';
import { installLonghornApi } from './longhorn-api.js';
import { csiAvailable, startCsiController, startCsiNodePlugin } from './longhorn-csi.js';
import { localExtenderConfiguration, startExtender } from './longhorn-extender.js';
import { checkLonghornEntries } from './longhorn-node.js';
import { LonghornSystem } from './longhorn-system.js';
import { startWebhook } from './longhorn-webhook.js';
import { groupAlive, type ManagedProcess, type ProcessRecord, stopGroup } from './managed-process.js';
import { defaultNodeSpecs, type NodeSpec, nodeManifest } from './node-specs.js';
import { freePort, freePorts, releasePort } from './ports.js';
import { SimulatedNode } from './simulated-node.js';
import { waitFor } from './wait.js';

export interface ClusterOptions {
  /** Everything of this cluster lives here: pki, etcd data, logs, node data, kubeconfig, state. */
  dir: string;
  /** Node count (default 3, spread over 3 zones) or explicit node specs. */
  nodes?: number | NodeSpec[];
  /** Merged into the KubeSchedulerConfiguration (e.g. `extenders`). */
  schedulerConfiguration?: SchedulerConfiguration;
  apiserverArgs?: string[];
  controllerManagerArgs?: string[];
  /** Manifest files or directories applied (in order) once the API answers, e.g. CRDs. */
  manifests?: string[];
  /**
   * longhorn-ts on top (default false: a bare control plane): the namespace longhorn-system,
   * the CRDs, and on every node an instance manager and an operator (operator/dist/main.js).
   */
  longhorn?: boolean;
  /** The processes outlive this Node.js process (the `cluster up` CLI). */
  outliveParent?: boolean;
  /** Deadline for the whole start. */
  timeoutMs?: number;
}

export class ClusterAlreadyRunningError extends Error {
  readonly code = 'CLUSTER_RUNNING';
  constructor(readonly dir: string) {
    super(
      `a cluster is already running in ${dir} (stop it with \`longhorn-local cluster down --dir ${dir}\`)`,
    );
  }
}

/**
 * The newest record of each process name: a node process restarted (an operator killed and
 * started again) leaves its earlier record behind, which is history, not a missing process.
 */
export function currentRecords(state: Pick<ClusterState, 'processes'>): ProcessRecord[] {
  const latest = new Map<string, ProcessRecord>();
  for (const p of state.processes) latest.set(p.name, p);
  return [...latest.values()];
}

/** Process records of `state` whose group still has a live process. */
export function liveProcesses(state: Pick<ClusterState, 'processes'>): ProcessRecord[] {
  return state.processes.filter((p) => groupAlive(p.pgid));
}

const log = harnessLogger('cluster');

/**
 * A real control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) with
 * kwok playing the kubelet of N nodes, and our own per-node processes.
 */
export class Cluster {
  readonly kubectl: Kubectl;
  private readonly simulatedNodes = new Map<string, SimulatedNode>();
  private longhornSystem: LonghornSystem | undefined;
  private stopped = false;
  // State writes are serialised: components start concurrently and each one is recorded.
  private writes: Promise<void> = Promise.resolve();

  private constructor(
    private readonly state: ClusterState,
    private readonly procs: ManagedProcess[],
    private readonly outliveParent: boolean,
  ) {
    this.kubectl = new Kubectl(state.kubeconfig);
    for (const spec of state.nodes) {
      this.simulatedNodes.set(
        spec.name,
        new SimulatedNode({
          spec,
          dataDir: join(state.dir, 'nodes', spec.name),
          logDir: join(state.dir, 'logs'),
          kubeconfig: state.kubeconfig,
          outliveParent,
          onStart: (proc) => this.track(proc),
        }),
      );
    }
  }

  get dir(): string {
    return this.state.dir;
  }

  get kubeconfig(): string {
    return this.state.kubeconfig;
  }

  get apiServer(): string {
    return this.state.apiServer;
  }

  get nodeSpecs(): readonly NodeSpec[] {
    return this.state.nodes;
  }

  get nodes(): SimulatedNode[] {
    return [...this.simulatedNodes.values()];
  }

  node(name: string): SimulatedNode {
    const node = this.simulatedNodes.get(name);
    if (!node)
      throw new Error(`no node ${name} in this cluster (${[...this.simulatedNodes.keys()].join(', ')})`);
    return node;
  }

  /** The scheduler extender's URL (started with `longhorn: true`). */
  get extenderUrl(): string {
    const port = this.state.ports.extender;
    if (port === undefined) throw new Error(`the cluster in ${this.dir} was started without longhorn-ts`);
    return `http://127.0.0.1:${port}`;
  }

  /** The cluster's MinIO backup store (started with `longhorn: true` when MinIO is built). */
  get backupstore(): ReturnType<typeof localBackupstoreInfo> {
    const port = this.state.ports.minio;
    if (port === undefined)
      throw new Error(`the cluster in ${this.dir} has no backup store (MinIO not built?)`);
    return localBackupstoreInfo(port);
  }

  /** longhorn-ts on this cluster's nodes (started with `longhorn: true`). */
  get longhorn(): LonghornSystem {
    if (!this.longhornSystem) throw new Error(`the cluster in ${this.dir} was started without longhorn-ts`);
    return this.longhornSystem;
  }

  /** Every process started for this cluster, as recorded in DIR/cluster.json. */
  processRecords(): ProcessRecord[] {
    return [...this.state.processes];
  }

  /**
   * Log files of every component and node process, and of the data-plane processes the
   * instance managers run (DIR/nodes/<node>/logs/).
   */
  logFiles(): { name: string; path: string }[] {
    const files = this.state.processes.map((p) => ({ name: p.name, path: p.logFile }));
    for (const node of this.nodes) {
      const logDir = join(node.dataDir, 'logs');
      let entries: string[] = [];
      try {
        entries = readdirSync(logDir).filter((f) => f.endsWith('.log'));
      } catch {
        continue; // no instance manager ran there
      }
      for (const f of entries.sort()) files.push({ name: `${node.name}/${f}`, path: join(logDir, f) });
    }
    return files;
  }

  /** The last `lines` lines of every log, for a failing test's report. */
  async logTails(lines = 40): Promise<string> {
    return formatLogTails(this.logFiles(), lines);
  }

  static async start(options: ClusterOptions): Promise<Cluster> {
    const t0 = Date.now();
    const dir = resolve(options.dir);
    const timeoutMs = options.timeoutMs ?? 120_000;
    const outliveParent = options.outliveParent ?? false;
    const previous = await readClusterState(dir);
    if (previous && liveProcesses(previous).length > 0) throw new ClusterAlreadyRunningError(dir);
    // Before anything starts: a missing build is a one-line error, not a half-started cluster.
    if (options.longhorn) checkLonghornEntries();

    const logDir = join(dir, 'logs');
    const runDir = join(dir, 'run');
    await Promise.all(
      [logDir, runDir, join(dir, 'nodes'), join(dir, 'etcd')].map((d) => mkdir(d, { recursive: true })),
    );
    const nodes = Array.isArray(options.nodes) ? options.nodes : defaultNodeSpecs(options.nodes ?? 3);
    const [etcdClient, etcdPeer, apiserver, controllerManager, scheduler, kwok] = (await freePorts(6)) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const kubeconfig = join(dir, 'kubeconfig');
    // longhorn-ts's scheduler extender: the scheduler is told its address from the start.
    const extenderPort = options.longhorn ? await freePort() : undefined;
    // The backup store (MinIO) of a cluster with longhorn-ts, when MinIO is built.
    const withBackupstore = options.longhorn === true && localBackupstoreAvailable();
    const [minioPort, minioConsolePort] = withBackupstore ? await freePorts(2) : [];
    const state: ClusterState = {
      dir,
      kubeconfig,
      apiServer: `https://127.0.0.1:${apiserver}`,
      ownerPid: outliveParent ? null : process.pid,
      ready: false,
      startedAt: new Date().toISOString(),
      nodes,
      ports: {
        etcdClient,
        etcdPeer,
        apiserver,
        controllerManager,
        scheduler,
        kwok,
        ...(extenderPort === undefined ? {} : { extender: extenderPort }),
        ...(minioPort === undefined ? {} : { minio: minioPort, minioConsole: minioConsolePort! }),
      },
      processes: [],
    };
    const procs: ManagedProcess[] = [];
    const cluster = new Cluster(state, procs, outliveParent);
    const remaining = () => Math.max(1_000, timeoutMs - (Date.now() - t0));
    await writeClusterState(state);

    try {
      // MinIO starts beside the control plane and is waited for only where its Secret and
      // Settings are applied: it adds nothing to the start's critical path.
      const backupstoreStart =
        minioPort === undefined
          ? undefined
          : startLocalBackupstore({
              dir,
              logDir,
              port: minioPort,
              consolePort: minioConsolePort!,
              outliveParent,
              timeoutMs: remaining(),
              onSpawn: (p) => cluster.track(p),
            });
      // Awaited below; a failure meanwhile is not an unhandled rejection.
      backupstoreStart?.catch(() => undefined);
      const [pki, etcd] = await Promise.all([
        createClusterPki(join(dir, 'pki')),
        startEtcd({
          dataDir: join(dir, 'etcd'),
          logDir,
          clientPort: etcdClient,
          peerPort: etcdPeer,
          outliveParent,
          timeoutMs: remaining(),
          onSpawn: (p) => cluster.track(p),
        }),
      ]);
      const api = await startKubeApiserver({
        pki,
        etcdUrl: etcd.url,
        port: apiserver,
        logDir,
        certDir: join(runDir, 'kube-apiserver'),
        extraArgs: options.apiserverArgs ?? [],
        outliveParent,
        timeoutMs: remaining(),
        onSpawn: (p) => cluster.track(p),
      });
      await writeKubeconfig(kubeconfig, {
        server: api.url,
        caCert: pki.caCert,
        clientCert: pki.adminCert,
        clientKey: pki.adminKey,
      });
      log.debug({ ms: Date.now() - t0 }, 'API server ready');
      await Promise.all([
        startKubeControllerManager({
          pki,
          kubeconfig,
          port: controllerManager,
          logDir,
          certDir: join(runDir, 'kube-controller-manager'),
          extraArgs: options.controllerManagerArgs ?? [],
          outliveParent,
          timeoutMs: remaining(),
          onSpawn: (p) => cluster.track(p),
        }),
        startKubeScheduler({
          kubeconfig,
          port: scheduler,
          logDir,
          certDir: join(runDir, 'kube-scheduler'),
          configFile: join(dir, 'kube-scheduler.json'),
          configuration: {
            ...(extenderPort === undefined ? {} : localExtenderConfiguration(extenderPort)),
            ...(options.schedulerConfiguration ?? {}),
          },
          outliveParent,
          timeoutMs: remaining(),
          onSpawn: (p) => cluster.track(p),
        }),
        startKwok({
          kubeconfig,
          port: kwok,
          logDir,
          configFile: join(dir, 'kwok.yaml'),
          // With longhorn-ts a pod's volumes are mounted by the kubelet stand-in before it runs.
          ...(options.longhorn ? { volumesMountedAnnotation: VOLUMES_MOUNTED_ANNOTATION } : {}),
          outliveParent,
          timeoutMs: remaining(),
          onSpawn: (p) => cluster.track(p),
        }),
        cluster.kubectl.apply(nodes.map(nodeManifest)),
        (async () => {
          for (const path of options.manifests ?? []) await cluster.kubectl.applyFile(resolve(path));
        })(),
        options.longhorn
          ? installLonghornApi(cluster.kubectl, remaining()).then(async () => {
              const backupstore = await backupstoreStart;
              if (backupstore) await configureLocalBackupTarget(cluster.kubectl, backupstore);
            })
          : undefined,
      ]);
      await Promise.all([
        cluster.kubectl.waitForCondition('nodes', 'Ready', { all: true, timeoutMs: remaining() }),
        // Pods are refused until the service-account controller made `default` in a namespace.
        waitFor(
          'the default service account',
          () => cluster.kubectl.tryGet('serviceaccount', 'default', 'default'),
          {
            timeoutMs: remaining(),
          },
        ),
      ]);
      if (options.longhorn) {
        cluster.longhornSystem = await LonghornSystem.start({
          kubectl: cluster.kubectl,
          nodes: cluster.nodes,
          apiInstalled: true,
          timeoutMs: remaining(),
          onRecord: (node, record) => {
            state.longhorn = { ...state.longhorn, [node]: record };
            return cluster.saveState();
          },
        });
        log.debug({ ms: Date.now() - t0 }, 'longhorn-ts ready');
        // Admission webhooks after the operators (their start is not held up by it); from then on
        // every create and update of our kinds passes through them, so invalid YAML is refused.
        await startWebhook({
          kubeconfig,
          logDir,
          outliveParent,
          timeoutMs: remaining(),
          onSpawn: (p) => cluster.track(p),
        });
        log.debug({ ms: Date.now() - t0 }, 'admission webhooks ready');
        await startExtender({
          kubeconfig,
          port: extenderPort!,
          logDir,
          outliveParent,
          timeoutMs: remaining(),
          onSpawn: (p) => cluster.track(p),
        });
        log.debug({ ms: Date.now() - t0 }, 'scheduler extender ready');
        // The CSI controller with its sidecars, and a node plugin per node (registered as kubelet would).
        if (csiAvailable()) {
          const onSpawn = (p: ManagedProcess) => cluster.track(p);
          await startCsiController({ ...cluster.csiOptions(logDir, outliveParent, remaining()), onSpawn });
          await Promise.all(cluster.nodes.map((n) => startCsiNodePlugin(n, cluster.kubectl, remaining())));
          // kubelet's part for pods: their volumes staged and published through the node plugin.
          await Promise.all(cluster.nodes.map((n) => startKubeletStandin(n, remaining())));
          log.debug({ ms: Date.now() - t0 }, 'CSI controller, node plugins and kubelet stand-ins ready');
        } else log.warn('CSI driver or sidecars not built: cluster up without CSI');
      }
      state.ready = true;
      await cluster.saveState();
      log.info({ ms: Date.now() - t0, dir }, 'cluster ready');
      return cluster;
    } catch (err) {
      const tails = await cluster.logTails(30).catch(() => '');
      await cluster.stop().catch(() => undefined);
      const error = err instanceof Error ? err : new Error(String(err));
      error.message = `cluster start in ${dir} failed: ${error.message}\n${tails}`;
      throw error;
    }
  }

  private csiOptions(logDir: string, outliveParent: boolean, timeoutMs: number) {
    return {
      kubectl: this.kubectl,
      kubeconfig: this.kubeconfig,
      dir: this.dir,
      logDir,
      outliveParent,
      timeoutMs,
    };
  }

  private saveState(): Promise<void> {
    if (this.stopped) return this.writes;
    const next = this.writes.then(() => writeClusterState(this.state));
    this.writes = next.catch(() => undefined);
    return next;
  }

  private async track<T extends ManagedProcess>(proc: T): Promise<T> {
    if (this.stopped) {
      // Spawned by a component start that was still under way when a failed start tore down.
      await proc.kill();
      return proc;
    }
    if (!this.procs.includes(proc)) {
      this.procs.push(proc);
      this.state.processes.push(proc.record());
      await this.saveState();
    }
    return proc;
  }

  /**
   * Stops node processes, then the control plane in reverse start order (SIGTERM, SIGKILL after
   * graceMs), releases mounts and loop devices under the cluster's directory and removes the
   * state file. Idempotent.
   */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.writes;
    await stopRecordedProcesses(this.state.processes, graceMs);
    const leftovers = await releaseHostResources(this.state.dir);
    for (const port of Object.values(this.state.ports)) releasePort(port);
    await removeClusterState(this.state.dir);
    if (leftovers.length > 0) throw new Error(`cluster in ${this.state.dir} left: ${leftovers.join('; ')}`);
  }
}

/** Node processes (named `node/...`) first, all at once; then the control plane, last first. */
async function stopRecordedProcesses(records: ProcessRecord[], graceMs: number): Promise<void> {
  const isNodeProcess = (r: ProcessRecord) => r.name.includes('/');
  await Promise.all(records.filter(isNodeProcess).map((r) => stopGroup(r.pgid, graceMs)));
  for (const r of records.filter((r) => !isNodeProcess(r)).reverse()) await stopGroup(r.pgid, graceMs);
}

/**
 * Stops the cluster recorded in DIR/cluster.json from any process (the `cluster down` CLI);
 * returns the records it found (empty when nothing was recorded).
 */
export async function stopClusterInDir(dir: string, graceMs = 10_000): Promise<ProcessRecord[]> {
  const root = resolve(dir);
  const state = await readClusterState(root);
  if (state) await stopRecordedProcesses(state.processes, graceMs);
  const leftovers = await releaseHostResources(root);
  await removeClusterState(root);
  if (leftovers.length > 0) throw new Error(`cluster in ${root} left: ${leftovers.join('; ')}`);
  return state?.processes ?? [];
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Stops clusters in `parent/<prefix>*` whose owning process is gone (a test process that was
 * SIGKILLed cannot clean up after itself). Clusters started by `cluster up` (no owner) are left
 * alone. Returns the directories it cleaned.
 */
export async function stopAbandonedClusters(parent: string, prefix: string): Promise<string[]> {
  const cleaned: string[] = [];
  const entries = await readdir(parent).catch(() => [] as string[]);
  for (const entry of entries.filter((e) => e.startsWith(prefix))) {
    const dir = join(parent, entry);
    const state = await readClusterState(dir).catch(() => undefined);
    if (!state || state.ownerPid === null || processExists(state.ownerPid)) continue;
    if (liveProcesses(state).length === 0) continue;
    log.warn({ dir, ownerPid: state.ownerPid }, 'stopping a cluster whose owner is gone');
    await stopClusterInDir(dir, 2_000);
    cleaned.push(dir);
  }
  return cleaned;
}

export async function formatLogTails(
  files: { name: string; path: string }[],
  lines: number,
): Promise<string> {
  const parts = await Promise.all(
    files.map(async ({ name, path }) => {
      const text = await readFile(path, 'utf8').catch((err: Error) => `(unreadable: ${err.message})`);
      const tail = text.trimEnd().split('\n').slice(-lines).join('\n');
      return `----- ${name} (${path}), last ${lines} lines -----\n${tail}`;
    }),
  );
  return parts.join('\n');
}
