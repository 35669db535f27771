import { readFile, rmdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  CoreV1Api,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  PatchStrategy,
  StorageV1Api,
  setHeaderOptions,
  Watch,
} from '@kubernetes/client-node';
import { CsiCallError } from '@longhorn-ts/csi';
import {
  type CachingInformer,
  ResilientInformer,
  runWorkers,
  splitKey,
  toApiCallError,
  WorkQueue,
} from '@longhorn-ts/operator';
import type { Logger } from 'pino';
import {
  type CsiNodeClient,
  type KubeletVolume,
  kubeletExpandVolume,
  kubeletMountVolume,
  kubeletPaths,
  kubeletUnpublishVolume,
  kubeletUnstageVolume,
} from './kubelet-csi.js';
import {
  failedMountMessage,
  heldForMounts,
  type NodeExpansion,
  needsStandin,
  type PlanLookup,
  type PodLike,
  type PvcLike,
  type PvLike,
  planPodVolumes,
  type SecretRef,
  STANDIN_FINALIZER,
  type VaLike,
  VOLUMES_MOUNTED_ANNOTATION,
  type VolumePlan,
  volumeInUseName,
} from './kubelet-standin-plan.js';
import { type MountRecord, MountRecords } from './kubelet-standin-records.js';

// kubelet's volume part for the pods bound to one simulated node (there is no kubelet here:
// kwok only plays its status). For every pod on the node whose volumes are PVCs of the CSI
// driver: report the volume in node.status.volumesInUse, wait for the attach-detach
// controller's VolumeAttachment to be attached, then NodeStage + NodePublish with kubelet's
// paths (kubelet-csi.ts). A finalizer keeps the pod object until its volumes are unpublished
// and unstaged, as kubelet deletes a pod object only once its volumes are cleaned up; an
// annotation tells kwok the pod may turn Running. Failures become FailedMount events on the
// pod and are retried with back-off (500 ms doubling to 2 min, as kubelet's volume manager).

export interface KubeletStandinOptions {
  kubeConfig: KubeConfig;
  nodeName: string;
  /** kubelet's root dir: the node's data directory. */
  kubeletDir: string;
  driverName: string;
  csi: CsiNodeClient;
  log: Logger;
  /** Where mount records live (default KUBELET_DIR/kubelet-standin/pods). */
  recordsDir?: string;
  workers?: number;
}

/** After this long waiting for a volume, the pod gets kubelet's "Unable to attach or mount" event. */
const MOUNT_WAIT_EVENT_MS = 120_000;
const EVENT_REPEAT_MS = 60_000;

type Obj = KubernetesObject;

function mergePatch() {
  return setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
}

function errorMessage(err: unknown): string {
  if (err instanceof CsiCallError) return `rpc error: code = ${err.codeName} desc = ${err.details}`;
  return err instanceof Error ? err.message : String(err);
}

function httpCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Mount points of this host (the stand-in runs as root in the host's mount namespace). */
async function mountPoints(): Promise<Set<string>> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const points = new Set<string>();
  for (const line of text.split('\n')) {
    const field = line.split(' ')[4];
    if (field) points.add(field.replace(/\\040/g, ' '));
  }
  return points;
}

export class KubeletStandin {
  private readonly core: CoreV1Api;
  private readonly storage: StorageV1Api;
  private readonly queue = new WorkQueue({ baseDelayMs: 500, maxDelayMs: 122_000 });
  private readonly records: MountRecords;
  private readonly pods: ResilientInformer<Obj>;
  private readonly pvcs: ResilientInformer<Obj>;
  private readonly pvs: ResilientInformer<Obj>;
  private readonly vas: ResilientInformer<Obj>;
  /** volumesInUse entries wanted per pod uid (planned or mounted). */
  private readonly inUse = new Map<string, Set<string>>();
  private reportedInUse: string | undefined;
  private inUseWrites: Promise<void> = Promise.resolve();
  /** When each pod uid was first seen waiting for a volume. */
  private readonly waitingSince = new Map<string, number>();
  private readonly recentEvents = new Map<string, number>();
  private podInfoOnMount: boolean | undefined;
  /** Volumes an earlier run mounted (`uid/pv`), until this run has checked each one. */
  private readonly takenOver = new Set<string>();
  /** The last operation queued on each volume handle (see withVolume). */
  private readonly volumeLocks = new Map<string, Promise<void>>();
  private workers: Promise<void> | undefined;

  constructor(private readonly options: KubeletStandinOptions) {
    const kc = options.kubeConfig;
    this.core = kc.makeApiClient(CoreV1Api);
    this.storage = kc.makeApiClient(StorageV1Api);
    this.records = new MountRecords(options.recordsDir ?? `${options.kubeletDir}/kubelet-standin/pods`);
    const watch = new Watch(kc);
    const informer = <T extends Obj>(
      name: string,
      path: string,
      list: () => Promise<KubernetesListObject<T>>,
      keysOf: (obj: Obj) => readonly string[],
      fieldSelector?: string,
    ) =>
      new ResilientInformer<Obj>({
        name,
        create: () =>
          new ListWatch<Obj>(path, watch, list, false, undefined, fieldSelector) as CachingInformer<Obj>,
        enqueue: (key) => this.queue.add(key),
        keysOf,
        logger: options.log,
      });
    const node = options.nodeName;
    const everyPod = () => this.podKeys();
    this.pods = informer(
      'pods',
      '/api/v1/pods',
      () => this.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` }),
      (pod) => [`${pod.metadata?.namespace}/${pod.metadata?.name}`],
      `spec.nodeName=${node}`,
    );
    this.pvcs = informer(
      'persistentvolumeclaims',
      '/api/v1/persistentvolumeclaims',
      () => this.core.listPersistentVolumeClaimForAllNamespaces(),
      everyPod,
    );
    this.pvs = informer(
      'persistentvolumes',
      '/api/v1/persistentvolumes',
      () => this.core.listPersistentVolume(),
      everyPod,
    );
    this.vas = informer(
      'volumeattachments',
      '/apis/storage.k8s.io/v1/volumeattachments',
      () => this.storage.listVolumeAttachment(),
      (va) => ((va as unknown as VaLike).spec?.nodeName === node ? everyPod() : []),
    );
  }

  private podKeys(): string[] {
    return this.pods.list().map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`);
  }

  /** Lists and watches, takes over what an earlier run mounted, and starts reconciling. */
  async start(): Promise<void> {
    const informers = [this.pods, this.pvcs, this.pvs, this.vas];
    await Promise.all(informers.map((i) => i.start()));
    await Promise.all(informers.map((i) => i.waitForSync()));
    // Restart: every recorded volume is in use until proven otherwise; its pod is looked at.
    const found = await this.allRecords();
    for (const r of found) {
      this.wantInUse(r.pod.uid, volumeInUseName(r.volume.driverName, r.volume.volumeHandle));
      this.takenOver.add(`${r.pod.uid}/${r.volume.pvName}`);
      this.queue.add(`${r.pod.namespace}/${r.pod.name}`);
    }
    this.options.log.info(
      { volumes: found.map((r) => `${r.pod.namespace}/${r.pod.name}:${r.volume.pvName}`) },
      'mount records found',
    );
    // A refused or timed-out write is not fatal here: every reconcile writes it again.
    await this.syncInUse().catch((err: unknown) =>
      this.options.log.warn({ err: (err as Error).message }, 'volumesInUse not written yet'),
    );
    for (const key of this.podKeys()) this.queue.add(key);
    this.workers = runWorkers(this.queue, (key) => this.reconcile(key), {
      workers: this.options.workers ?? 4,
      logger: this.options.log,
    });
  }

  /** Stops watching and waits for reconciles under way; mounts stay (a kubelet restart too). */
  async stop(): Promise<void> {
    this.queue.shutDown();
    await Promise.all([this.pods, this.pvcs, this.pvs, this.vas].map((i) => i.stop()));
    await this.workers;
  }

  private allRecords(): Promise<MountRecord[]> {
    return this.records.all((file, err) => this.options.log.warn({ file, err }, 'unreadable mount record'));
  }

  private lookup(): PlanLookup {
    const { driverName, nodeName } = this.options;
    return {
      driverName,
      nodeName,
      podInfoOnMount: this.podInfoOnMount ?? true,
      pvc: (ns, name) => this.pvcs.get(name, ns) as unknown as PvcLike | undefined,
      pv: (name) => this.pvs.get(name) as unknown as PvLike | undefined,
      va: (pvName) =>
        (this.vas.list() as unknown as VaLike[]).find(
          (va) =>
            va.spec.nodeName === nodeName &&
            va.spec.attacher === driverName &&
            va.spec.source.persistentVolumeName === pvName,
        ),
    };
  }

  private async reconcile(key: string): Promise<{ requeueAfterMs?: number } | undefined> {
    const { namespace, name } = splitKey(key);
    const pod = this.pods.get(name, namespace) as unknown as PodLike | undefined;
    const records = (await this.allRecords()).filter(
      (r) => r.pod.namespace === namespace && r.pod.name === name,
    );
    // A pod gone without us (force-deleted, finalizer removed by hand) or replaced by a new pod
    // of the same name: its volumes are unmounted now.
    for (const r of records.filter((r) => r.pod.uid !== pod?.metadata.uid)) await this.unmount(r);
    if (!pod) {
      await this.syncInUse();
      return undefined;
    }
    const uid = pod.metadata.uid;
    // Deleted, or finished (a Job's pod): kubelet tears its volumes down.
    const phase = pod.status?.phase;
    if (pod.metadata.deletionTimestamp || phase === 'Succeeded' || phase === 'Failed') {
      for (const r of records.filter((r) => r.pod.uid === uid)) await this.unmount(r);
      this.inUse.delete(uid);
      this.waitingSince.delete(uid);
      await this.syncInUse();
      await this.setFinalizer(pod, false);
      return undefined;
    }
    if (this.podInfoOnMount === undefined) await this.readCsiDriver();
    const plans = planPodVolumes(pod, this.lookup());
    if (!needsStandin(plans)) {
      await this.markMounted(pod);
      return undefined;
    }
    await this.setFinalizer(pod, true);
    const wanted = new Set<string>();
    for (const p of plans) if ((p.kind === 'mount' || p.kind === 'wait') && p.inUse) wanted.add(p.inUse);
    for (const r of records) wanted.add(volumeInUseName(r.volume.driverName, r.volume.volumeHandle));
    this.inUse.set(uid, wanted);
    await this.syncInUse();

    const mounted = await mountPoints();
    let failed: unknown;
    let pending = false;
    for (const plan of plans) {
      if (plan.kind === 'skip') continue;
      if (plan.kind === 'refuse') {
        pending = true;
        this.event(pod, 'Warning', 'FailedMount', failedMountMessage(plan, undefined, plan.reason));
        continue;
      }
      if (plan.kind === 'wait') {
        pending = true;
        continue;
      }
      try {
        await this.withVolume(plan.kubeletVolume.volumeHandle, async () => {
          await this.mount(pod, plan, records, mounted);
          if (plan.nodeExpansion) await this.expand(pod, plan.kubeletVolume, plan.nodeExpansion);
        });
      } catch (err) {
        failed ??= err;
        pending = true;
        const message = failedMountMessage(plan, plan.kubeletVolume.pvName, errorMessage(err));
        this.event(pod, 'Warning', 'FailedMount', message);
        this.options.log.warn({ pod: key, volume: plan.volume, err: errorMessage(err) }, 'mount failed');
      }
    }
    if (failed !== undefined) throw failed; // retried with back-off
    if (pending) {
      this.reportLongWait(pod, plans);
      return { requeueAfterMs: 5_000 };
    }
    this.waitingSince.delete(uid);
    await this.markMounted(pod);
    return undefined;
  }

  /** Stage and publish one volume unless it is published already (mount point present). */
  private async mount(
    pod: PodLike,
    plan: Extract<VolumePlan, { kind: 'mount' }>,
    records: MountRecord[],
    mounted: Set<string>,
  ): Promise<void> {
    const v = plan.kubeletVolume;
    const { targetPath } = kubeletPaths(this.options.kubeletDir, v);
    const known = records.find((r) => r.pod.uid === v.podUid && r.volume.pvName === v.pvName);
    if (known?.published && mounted.has(targetPath)) {
      if (this.takenOver.delete(`${v.podUid}/${v.pvName}`))
        this.options.log.info(
          { pod: `${pod.metadata.namespace}/${pod.metadata.name}`, volume: v.pvName, targetPath },
          'volume still mounted, taken over',
        );
      return;
    }
    const record: MountRecord = {
      pod: { namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid },
      volume: v,
      published: false,
    };
    await this.records.write(record);
    const t0 = Date.now();
    const volume: KubeletVolume = {
      ...v,
      ...(plan.stageSecretRef ? { stageSecrets: await this.secret(plan.stageSecretRef) } : {}),
      ...(plan.publishSecretRef ? { publishSecrets: await this.secret(plan.publishSecretRef) } : {}),
    };
    const paths = await kubeletMountVolume(this.options.csi, this.options.kubeletDir, volume);
    await this.records.write({ ...record, published: true });
    this.options.log.info(
      {
        pod: `${pod.metadata.namespace}/${pod.metadata.name}`,
        volume: v.pvName,
        targetPath: paths.targetPath,
        ms: Date.now() - t0,
      },
      'volume mounted',
    );
  }

  /**
   * kubelet's part of an online expansion: NodeExpandVolume (the loop device and the mounted file
   * system grow), then the claim's status says the new capacity and no resize is pending.
   */
  private async expand(pod: PodLike, v: KubeletVolume, e: NodeExpansion): Promise<void> {
    const pvName = v.pvName;
    try {
      await kubeletExpandVolume(this.options.csi, this.options.kubeletDir, v, e.requiredBytes);
    } catch (err) {
      this.event(
        pod,
        'Warning',
        'FileSystemResizeFailed',
        `MountVolume.NodeExpandVolume failed for volume "${pvName}" : ${errorMessage(err)}`,
      );
      throw err;
    }
    const pvc = this.pvcs.get(e.claim.name, e.claim.namespace) as unknown as PvcLike | undefined;
    const conditions = (pvc?.status?.conditions ?? []).filter(
      (c) => c.type !== 'FileSystemResizePending' && c.type !== 'Resizing',
    );
    await this.core.patchNamespacedPersistentVolumeClaimStatus(
      {
        name: e.claim.name,
        namespace: e.claim.namespace,
        body: {
          status: {
            capacity: { storage: e.capacity },
            conditions,
            allocatedResourceStatuses: { storage: null },
          },
        },
      },
      mergePatch(),
    );
    this.event(
      pod,
      'Normal',
      'FileSystemResizeSuccessful',
      `MountVolume.NodeExpandVolume succeeded for volume "${pvName}" ${this.options.nodeName}`,
    );
    this.options.log.info(
      { pod: `${pod.metadata.namespace}/${pod.metadata.name}`, volume: pvName, capacity: e.capacity },
      'volume expanded',
    );
  }

  /**
   * One operation per volume at a time, as kubelet's operation executor keeps it: two pods of
   * the node sharing a claim never stage and unstage it at once (the driver would answer the
   * second ABORTED).
   */
  private async withVolume<T>(handle: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.volumeLocks.get(handle) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((done) => {
      release = done;
    });
    const tail = previous.then(() => mine);
    this.volumeLocks.set(handle, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.volumeLocks.get(handle) === tail) this.volumeLocks.delete(handle);
    }
  }

  /** Unpublish one pod's volume; unstage it when no other pod on the node uses it. */
  private unmount(r: MountRecord): Promise<void> {
    return this.withVolume(r.volume.volumeHandle, () => this.unmountNow(r));
  }

  private async unmountNow(r: MountRecord): Promise<void> {
    const { csi, kubeletDir } = this.options;
    const v = { ...r.volume, podUid: r.pod.uid } as KubeletVolume;
    const paths = await kubeletUnpublishVolume(csi, kubeletDir, v);
    const others = (await this.allRecords()).filter(
      (o) => o.pod.uid !== r.pod.uid && o.volume.volumeHandle === v.volumeHandle,
    );
    if (others.length === 0) await kubeletUnstageVolume(csi, kubeletDir, v);
    await this.records.remove(r.pod.uid, v.pvName);
    await this.removeEmptyDirs(dirname(paths.targetPath), r.pod.uid);
    const mine = this.inUse.get(r.pod.uid);
    mine?.delete(volumeInUseName(v.driverName, v.volumeHandle));
    if (mine?.size === 0) this.inUse.delete(r.pod.uid);
    this.options.log.info(
      { pod: `${r.pod.namespace}/${r.pod.name}`, volume: v.pvName, unstaged: others.length === 0 },
      'volume unmounted',
    );
  }

  /** kubelet's empty per-pod volume directories go; never recursively (a mount may be there). */
  private async removeEmptyDirs(from: string, podUid: string): Promise<void> {
    let dir = from;
    while (dir.includes(podUid) && dir.length > this.options.kubeletDir.length) {
      try {
        await rmdir(dir);
      } catch {
        return;
      }
      dir = dirname(dir);
    }
  }

  private wantInUse(uid: string, entry: string): void {
    const set = this.inUse.get(uid) ?? new Set<string>();
    set.add(entry);
    this.inUse.set(uid, set);
  }

  /** node.status.volumesInUse as kubelet reports it: every volume a pod here has or will have mounted. */
  private syncInUse(): Promise<void> {
    const next = this.inUseWrites.then(async () => {
      const entries = [...new Set([...this.inUse.values()].flatMap((s) => [...s]))].sort();
      const json = JSON.stringify(entries);
      if (json === this.reportedInUse) return;
      await this.core.patchNodeStatus(
        { name: this.options.nodeName, body: { status: { volumesInUse: entries } } },
        mergePatch(),
      );
      this.reportedInUse = json;
    });
    this.inUseWrites = next.catch(() => undefined);
    return next;
  }

  private async setFinalizer(pod: PodLike, present: boolean): Promise<void> {
    const current = pod.metadata.finalizers ?? [];
    if (current.includes(STANDIN_FINALIZER) === present) return;
    const finalizers = present
      ? [...current, STANDIN_FINALIZER]
      : current.filter((f) => f !== STANDIN_FINALIZER);
    try {
      await this.core.patchNamespacedPod(
        {
          name: pod.metadata.name,
          namespace: pod.metadata.namespace,
          // resourceVersion: a finalizer list written over a newer one would drop someone's entry.
          body: {
            metadata: {
              finalizers,
              resourceVersion: (pod.metadata as { resourceVersion?: string }).resourceVersion,
            },
          },
        },
        mergePatch(),
      );
    } catch (err) {
      if (!present && httpCode(err) === 404) return;
      // A Conflict is retried quietly by the queue: the pod changed since the cache saw it.
      const ref = { kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name };
      throw toApiCallError(err, ref, present ? 'add finalizer' : 'remove finalizer');
    }
  }

  private async markMounted(pod: PodLike): Promise<void> {
    if (!heldForMounts(pod) || pod.metadata.annotations?.[VOLUMES_MOUNTED_ANNOTATION] === 'true') return;
    await this.core.patchNamespacedPod(
      {
        name: pod.metadata.name,
        namespace: pod.metadata.namespace,
        body: { metadata: { annotations: { [VOLUMES_MOUNTED_ANNOTATION]: 'true' } } },
      },
      mergePatch(),
    );
  }

  private async readCsiDriver(): Promise<void> {
    try {
      const driver = await this.storage.readCSIDriver({ name: this.options.driverName });
      this.podInfoOnMount = driver.spec?.podInfoOnMount ?? false;
    } catch (err) {
      if (httpCode(err) !== 404) throw err;
      this.podInfoOnMount = false;
    }
  }

  private async secret(ref: SecretRef): Promise<Record<string, string>> {
    const secret = await this.core.readNamespacedSecret({ name: ref.name, namespace: ref.namespace });
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries(secret.data ?? {}))
      data[k] = Buffer.from(v, 'base64').toString('utf8');
    return { ...data, ...(secret.stringData ?? {}) };
  }

  private reportLongWait(pod: PodLike, plans: VolumePlan[]): void {
    const uid = pod.metadata.uid;
    const since = this.waitingSince.get(uid) ?? Date.now();
    this.waitingSince.set(uid, since);
    if (Date.now() - since < MOUNT_WAIT_EVENT_MS) return;
    const unmounted = plans.filter((p) => p.kind === 'wait' || p.kind === 'refuse');
    const reasons = unmounted.map((p) => `${p.volume}: ${'reason' in p ? p.reason : ''}`).join('; ');
    this.event(
      pod,
      'Warning',
      'FailedMount',
      `Unable to attach or mount volumes: unmounted volumes=[${unmounted.map((p) => p.volume).join(' ')}]: ${reasons}`,
    );
  }

  /** An event on the pod; the same one at most once a minute; failures only logged. */
  private event(pod: PodLike, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const key = `${pod.metadata.uid}/${reason}/${message}`;
    const now = Date.now();
    const last = this.recentEvents.get(key);
    if (last !== undefined && now - last < EVENT_REPEAT_MS) return;
    this.recentEvents.set(key, now);
    const namespace = pod.metadata.namespace;
    const stamp = new Date(now);
    const body = {
      metadata: { generateName: `${pod.metadata.name}.`, namespace },
      involvedObject: {
        kind: 'Pod',
        apiVersion: 'v1',
        name: pod.metadata.name,
        namespace,
        uid: pod.metadata.uid,
      },
      type,
      reason,
      message,
      source: { component: 'kubelet', host: this.options.nodeName },
      reportingComponent: 'kubelet',
      reportingInstance: this.options.nodeName,
      firstTimestamp: stamp,
      lastTimestamp: stamp,
      count: 1,
    };
    this.core.createNamespacedEvent({ namespace, body }).catch((err: unknown) => {
      this.options.log.debug({ err: errorMessage(err), reason }, 'could not record event');
    });
  }
}
