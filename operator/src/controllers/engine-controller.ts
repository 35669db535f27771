/**
 * Engine (acted on by the operator of spec.nodeID, or of status.ownerID once it is told to
 * stop): the engine process through the node's instance manager, started with every replica at
 * its TCP address, stopped on detach; its replica set kept equal to spec.replicaAddressMap
 * (a missing replica is added with ReplicaAdd in the background: that is the rebuild);
 * expansion when spec.volumeSize grows; status from the engine service every 2 s (a node-local
 * gRPC poll, as Longhorn's engine monitor does).
 */

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type Engine,
  type EngineStatus,
  type Volume,
  type VolumeQos,
  withoutLonghornFinalizer,
} from '@longhorn-ts/api';
import {
  formatEnvelopeArg,
  removeKekFile,
  removeStaleKekFiles,
  writeKekFile,
} from '@longhorn-ts/dataplane/crypt/index';
import {
  EngineClient,
  type SnapshotView,
  type VolumeView,
} from '@longhorn-ts/dataplane/engine/engine-client';
import type { InstanceManagerClient } from '@longhorn-ts/dataplane/instance-manager/client';
import type { ProcessInfo } from '@longhorn-ts/dataplane/instance-manager/process-supervisor';
import { parseReplicaAddress } from '@longhorn-ts/dataplane/net/replica-address';
import { ReplicaServerAdmin } from '@longhorn-ts/dataplane/protocol/admin-client';
import type { Logger } from 'pino';
import { staleRotationRecord } from '../encryption/data-key-rotation-step.js';
import { ENCRYPTION_KEY_UNAVAILABLE } from '../encryption/encryption-condition.js';
import { type EngineKeyIds, noteEngineKeys } from '../encryption/engine-keys-note.js';
import { EncryptionKeyError, type VolumeKeyStore } from '../encryption/volume-key-store.js';
import { isNotFound } from '../instances/replica-servers.js';
import { recordVolumeEvent } from '../k8s/events.js';
import { KINDS } from '../k8s/kinds.js';
import { volumeIoStore } from '../metrics/volume-io.js';
import type { ReconcileResult } from '../runtime/work-queue.js';
import { type ControllerContext, isMine, nameOfKey } from './context.js';
import { maintainEngine } from './engine-maintenance.js';
import { engineQosArgs, syncEngineQos } from './engine-qos.js';
import { membershipPlan, runningEngineStatus, stoppedEngineStatus } from './engine-status.js';
import { instanceManagerName } from './node-controller.js';
import { sameJson } from './same-json.js';

export const ENGINE_CONTROLLER = 'engine';
const MONITOR_MS = 2_000;
/** How long a start waits for replicas that do not serve yet before the engine decides. */
const START_WAIT_MS = 20_000;
/** How often an encrypted volume whose key cannot be had tries again (the Secret may appear). */
const KEY_RETRY_MS = 10_000;

/** The engine process's arguments (as local-volume.ts builds them, every replica over TCP). */
export function engineArgs(opts: {
  volume: string;
  replicas: Readonly<Record<string, string>>;
  ip: string;
  stateFile: string;
  wanted: number;
  timeoutMs: number;
  salvage: boolean;
  qos?: VolumeQos;
}): string[] {
  return [
    '--volume',
    opts.volume,
    ...Object.keys(opts.replicas)
      .sort()
      .flatMap((id) => ['--replica', `${id}=${opts.replicas[id]}`]),
    '--listen',
    `${opts.ip}:0`,
    '--control',
    `${opts.ip}:0`,
    '--state-file',
    opts.stateFile,
    '--wanted',
    String(opts.wanted),
    '--timeout-ms',
    String(opts.timeoutMs),
    ...(opts.salvage ? ['--salvage'] : []),
    ...engineQosArgs(opts.qos),
  ];
}

/** The node whose operator acts on the engine. */
export function engineOwner(e: Engine): string {
  return e.spec.nodeID || e.status?.ownerID || '';
}

export class EngineController {
  private readonly log: Logger;
  private readonly clients = new Map<string, EngineClient>();

  /** Engines whose last start found no usable key: retried less often. */
  private readonly keyFailures = new Set<string>();

  constructor(
    private readonly ctx: ControllerContext,
    private readonly im: InstanceManagerClient,
    /** Encrypted volumes' keys (without it an encrypted volume's engine is not started). */
    private readonly keys?: VolumeKeyStore,
  ) {
    this.log = ctx.log.child({ controller: ENGINE_CONTROLLER });
    // A previous operator of this node that died while handing a KEK over left its file behind.
    removeStaleKekFiles(this.keyDir())
      .then((n) => n > 0 && this.log.warn({ files: n }, 'stale KEK hand-over files removed'))
      .catch((err: unknown) =>
        this.log.warn({ err: (err as Error).message }, 'KEK hand-over dir not cleaned'),
      );
    ctx.dispatcher.watch<Engine>('Engine', ENGINE_CONTROLLER, (e) => [
      `${e.metadata.namespace}/${e.metadata.name}`,
    ]);
  }

  /** Where KEKs are handed to engines (0700; files live only while an engine starts). */
  private keyDir(): string {
    return join(this.ctx.id.dataDir, 'run', 'keys');
  }

  /** The engine service of a running engine on this node, if any (Snapshot controller uses it). */
  async service(engine: Engine): Promise<EngineClient | undefined> {
    if (engine.spec.nodeID !== this.ctx.id.node || engine.status?.currentState !== 'running')
      return undefined;
    const port = engine.status.port ?? 0;
    if (port === 0) return undefined;
    return this.client(`${this.ctx.id.ip}:${port}`);
  }

  private client(address: string): EngineClient {
    let c = this.clients.get(address);
    if (c === undefined) {
      c = new EngineClient(address);
      this.clients.set(address, c);
    }
    return c;
  }

  private dropClient(address: string): void {
    this.clients.get(address)?.close();
    this.clients.delete(address);
  }

  async reconcile(key: string): Promise<ReconcileResult | undefined> {
    const { ctx } = this;
    const e = ctx.caches.engines.get(nameOfKey(key), ctx.id.namespace);
    if (e === undefined) return undefined;
    const owner = engineOwner(e);
    const log = this.log.child({ engine: e.metadata.name, volume: e.spec.volumeName ?? '' });
    const deleting = e.metadata.deletionTimestamp !== undefined;

    if (owner !== ctx.id.node) {
      if (deleting && (owner === '' || !ctx.liveness.isLive(owner)) && isMine(ctx, key, owner, '')) {
        await this.dropFinalizer(e);
      }
      return undefined;
    }

    const name = e.metadata.name;
    let proc: ProcessInfo | undefined;
    try {
      proc = await this.im.get(name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }

    const wantRunning = !deleting && e.spec.desireState === 'running' && e.spec.nodeID === ctx.id.node;
    if (!wantRunning) {
      this.startWaits.delete(name);
      volumeIoStore.forget(e.spec.volumeName ?? '');
      if (proc !== undefined) {
        // Deleting also forgets a process that died: the next start is a fresh one.
        await this.im.delete(name).catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
        });
        if (proc.state !== 'stopped' && proc.state !== 'error') log.info('engine stopped');
      }
      if (proc !== undefined) this.dropClient(controlOf(proc));
      if (deleting) {
        await this.dropFinalizer(e);
        return undefined;
      }
      await this.writeStatus(e, stoppedEngineStatus(e.status, ctx.id.node, 'stopped'));
      return undefined;
    }

    if (proc === undefined || proc.state === 'stopped') {
      if (e.status?.started === true && e.status.currentState === 'running') {
        // It was running and is gone (its instance manager restarted): the volume decides.
        await this.writeStatus(
          e,
          stoppedEngineStatus(e.status, ctx.id.node, 'error', 'the engine process is gone'),
        );
        return undefined;
      }
      const waiting = await this.replicasNotServing(e);
      if (waiting.length > 0 && !this.waitedLongEnough(e)) {
        // Replica statuses may be from before a restart: the engine starts once its replica
        // servers really serve them (or after a while, when it decides itself).
        log.debug({ waiting }, 'engine waits for its replicas');
        await this.writeStatus(e, stoppedEngineStatus(e.status, ctx.id.node, 'starting'));
        return { requeueAfterMs: 1_000 };
      }
      this.startWaits.delete(e.metadata.name);
      proc = await this.start(e, log);
      if (proc === undefined)
        return { requeueAfterMs: this.keyFailures.has(e.metadata.name) ? KEY_RETRY_MS : MONITOR_MS };
    }
    if (proc.state === 'error') {
      await this.writeStatus(e, stoppedEngineStatus(e.status, ctx.id.node, 'error', proc.error));
      return undefined;
    }
    if (proc.state !== 'running') {
      await this.writeStatus(e, stoppedEngineStatus(e.status, ctx.id.node, 'starting'));
      return { requeueAfterMs: 500 };
    }

    const control = controlOf(proc);
    const client = this.client(control);
    let view: VolumeView;
    try {
      view = await client.volume();
    } catch (err) {
      this.dropClient(control);
      log.warn({ err: (err as Error).message }, 'engine service unreachable');
      return { requeueAfterMs: MONITOR_MS };
    }
    view = await this.syncMembers(e, client, view, log);
    const maintained = await maintainEngine(ctx, e, client, view, log);
    // A revert answered on the Engine CR: the cached copy is stale, its change brings it back.
    if (maintained.wrote) return { requeueAfterMs: 100 };
    view = maintained.view;
    const wantSize = Number(e.spec.volumeSize ?? '0');
    if (wantSize > view.size && !view.replicas.some((r) => r.mode === 'WO')) {
      try {
        view = await client.expand(wantSize);
        log.info({ size: wantSize }, 'engine expanded');
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'expansion failed');
      }
    }
    const qos = await syncEngineQos(client, e.spec.qos, log);
    // The counters were read somewhere between sending and the answer: stamp them halfway.
    const asked = ctx.clock.now();
    await client
      .ioStats()
      .then((c) => volumeIoStore.sample(e.spec.volumeName ?? '', c, (asked + ctx.clock.now()) / 2))
      .catch(() => volumeIoStore.forget(e.spec.volumeName ?? ''));
    let snapshots: SnapshotView[] | undefined;
    try {
      snapshots = await client.snapshotList();
    } catch {
      snapshots = undefined;
    }
    const status = runningEngineStatus(e.status, view, snapshots, {
      node: ctx.id.node,
      ip: ctx.id.ip,
      controlPort: Number(control.slice(control.lastIndexOf(':') + 1)),
      instanceManagerName: instanceManagerName(ctx.id.node),
      salvageRequested: e.spec.salvageRequested === true && proc.args.includes('--salvage'),
    });
    if (qos) status.qos = qos;
    await this.writeStatus(e, status);
    return { requeueAfterMs: MONITOR_MS };
  }

  private readonly startWaits = new Map<string, number>();

  private waitedLongEnough(e: Engine): boolean {
    const now = this.ctx.clock.now();
    const since = this.startWaits.get(e.metadata.name);
    if (since === undefined) {
      this.startWaits.set(e.metadata.name, now);
      return false;
    }
    return now - since > START_WAIT_MS;
  }

  /** Replicas of spec.replicaAddressMap whose server does not have them open (or cannot be reached). */
  private async replicasNotServing(e: Engine): Promise<string[]> {
    const byServer = new Map<string, string[]>();
    for (const [id, address] of Object.entries(e.spec.replicaAddressMap ?? {})) {
      byServer.set(address, [...(byServer.get(address) ?? []), id]);
    }
    const missing: string[] = [];
    await Promise.all(
      [...byServer].map(async ([address, ids]) => {
        let admin: ReplicaServerAdmin | undefined;
        try {
          admin = await ReplicaServerAdmin.connect(parseReplicaAddress(address), { connectTimeoutMs: 2_000 });
          const open = new Set((await admin.list()).map((r) => r.id));
          for (const id of ids) if (!open.has(id)) missing.push(id);
        } catch {
          missing.push(...ids);
        } finally {
          await admin?.disconnect();
        }
      }),
    );
    return missing.sort();
  }

  private async start(e: Engine, log: Logger): Promise<ProcessInfo | undefined> {
    const { ctx } = this;
    const volumeName = e.spec.volumeName ?? '';
    const volume = ctx.caches.volumes.get(volumeName, ctx.id.namespace);
    const replicas = e.spec.replicaAddressMap ?? {};
    if (Object.keys(replicas).length === 0) return undefined;
    // Whether the volume is encrypted is known from the Volume only: never start without it.
    if (volume === undefined) return undefined;
    let encryption: EngineKeys | undefined;
    if (volume.spec.encrypted === true) {
      encryption = await this.engineKeys(e, volume, log);
      if (encryption === undefined) return undefined;
    }
    const dir = join(ctx.id.dataDir, 'engines');
    await mkdir(dir, { recursive: true });
    const stateFile = join(dir, `${e.metadata.name}.json`);
    await refreshMemberAddresses(stateFile, replicas, log);
    if (encryption)
      await forgetStaleRotation(stateFile, encryption.ids.dataKeyId, encryption.ids.rotatingFrom, log);
    const args = engineArgs({
      volume: volumeName,
      replicas,
      ip: ctx.id.ip,
      stateFile,
      wanted: volume?.spec.numberOfReplicas ?? Object.keys(replicas).length,
      timeoutMs: ctx.settings.get('engine-replica-timeout') * 1000,
      salvage: e.spec.salvageRequested === true,
      ...(e.spec.qos ? { qos: e.spec.qos } : {}),
    });
    if (encryption) args.push(...encryption.args);
    try {
      // A dead engine is not restarted behind the volume's back: the volume controller decides.
      const proc = await this.im.create(e.metadata.name, 'engine', args, false);
      log.info({ replicas: Object.keys(replicas).length }, 'engine started');
      if (encryption) await noteEngineKeys(ctx.client, e, () => encryption.ids, log);
      return proc;
    } catch (err) {
      let message = (err as { details?: string; message?: string }).details ?? (err as Error).message;
      // The reason is the engine's own "cannot start: ..." line, earlier in its output.
      const lines = await this.im.logs(e.metadata.name).catch(() => [] as string[]);
      const reason = lines.findLast((l) => l.includes('cannot start:') && !l.includes('${'));
      if (reason !== undefined) message = reason.slice(reason.indexOf('cannot start:')).trim();
      log.warn({ err: message }, 'engine failed to start');
      const fresh = ctx.caches.engines.get(e.metadata.name, ctx.id.namespace) ?? e;
      await this.writeStatus(fresh, stoppedEngineStatus(fresh.status, ctx.id.node, 'error', message));
      return undefined;
    } finally {
      // The engine read its KEK before anything else: started or failed, it is done with the file.
      if (encryption) await removeKekFile(encryption.kekFile);
    }
  }

  /**
   * The engine arguments of an encrypted volume (--encryption ENVELOPE --kek-file FILE, the KEK
   * in a 0600 file under DATA_DIR/run/keys), or undefined after recording why there is no key:
   * the Engine in error (InstanceCreation: EncryptionKeyUnavailable) and a Warning Event on the
   * Volume, both naming the Secret and the key.
   */
  private async engineKeys(e: Engine, volume: Volume, log: Logger): Promise<EngineKeys | undefined> {
    const { ctx } = this;
    const name = e.metadata.name;
    try {
      if (!this.keys) throw new EncryptionKeyError('this operator has no access to encryption keys');
      const opened = await this.keys.open(volume);
      const rotation = opened.rotation;
      let kekFile: string;
      try {
        kekFile = await writeKekFile(this.keyDir(), name, opened.kek);
      } finally {
        opened.kek.fill(0);
      }
      this.keyFailures.delete(name);
      log.info(
        {
          secret: opened.secret,
          keyId: opened.envelope.keyId,
          ...(rotation ? { rotatingFrom: rotation.from, rotatingTo: rotation.to } : {}),
        },
        'encryption key handed to the engine',
      );
      // Mid-rotation the engine gets both data keys and goes on from its recorded watermark.
      const previous = rotation ? ['--previous-encryption', formatEnvelopeArg(rotation.previous)] : [];
      return {
        args: ['--encryption', formatEnvelopeArg(opened.envelope), ...previous, '--kek-file', kekFile],
        kekFile,
        ids: {
          dataKeyId: opened.dataKeyId,
          ...(rotation ? { rotatingFrom: rotation.from } : {}),
          keyId: opened.envelope.keyId,
          secret: opened.secret,
        },
      };
    } catch (err) {
      if (!(err instanceof EncryptionKeyError)) throw err;
      this.keyFailures.add(name);
      const message = `volume ${volume.metadata.name} cannot attach: ${err.message}`;
      log.warn({ err: err.message }, 'no encryption key for the engine');
      recordVolumeEvent(ctx.events, volume, 'Warning', ENCRYPTION_KEY_UNAVAILABLE, message);
      const status = stoppedEngineStatus(e.status, ctx.id.node, 'error', message);
      status.conditions = [
        { type: 'InstanceCreation', status: 'False', reason: ENCRYPTION_KEY_UNAVAILABLE, message },
      ];
      await this.writeStatus(e, status);
      return undefined;
    }
  }

  private async syncMembers(
    e: Engine,
    client: EngineClient,
    view: VolumeView,
    log: Logger,
  ): Promise<VolumeView> {
    const plan = membershipPlan(e.spec.replicaAddressMap ?? {}, view);
    let v = view;
    for (const id of plan.remove) {
      try {
        v = await client.removeReplica(id);
        log.info({ replica: id }, 'replica removed from the engine');
      } catch (err) {
        log.warn({ replica: id, err: (err as Error).message }, 'replica remove failed');
      }
    }
    if (plan.add !== undefined) {
      try {
        v = await client.addReplica(plan.add.id, plan.add.address, { background: true });
        log.info({ replica: plan.add.id, address: plan.add.address }, 'replica added: rebuilding');
      } catch (err) {
        log.warn({ replica: plan.add.id, err: (err as Error).message }, 'replica add failed');
      }
    }
    return v;
  }

  private async writeStatus(e: Engine, status: EngineStatus): Promise<void> {
    if (sameJson(status, e.status)) return;
    await this.ctx.client.replaceStatus(KINDS.engine, e, status);
  }

  private async dropFinalizer(e: Engine): Promise<void> {
    if (!(e.metadata.finalizers ?? []).length) return;
    await this.ctx.client.patch(
      KINDS.engine,
      e.metadata.name,
      { metadata: { finalizers: withoutLonghornFinalizer(e.metadata.finalizers) } },
      e.metadata.resourceVersion,
    );
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

/** An encrypted engine's start: its key arguments, the hand-over file, the key ids given. */
interface EngineKeys {
  args: string[];
  kekFile: string;
  ids: EngineKeyIds;
}

/**
 * Drops from the engine state file a data-key rotation record this node kept from an older
 * rotation (the volume was rotated again on another node since), which would make the engine
 * refuse the keys it is given (encryption/data-key-rotation-step.ts staleRotationRecord).
 */
export async function forgetStaleRotation(
  stateFile: string,
  current: string,
  previous: string | undefined,
  log?: Logger,
): Promise<void> {
  let state: { dataKeyRotation?: { to?: unknown; done?: unknown } } & Record<string, unknown>;
  try {
    state = JSON.parse(await readFile(stateFile, 'utf8')) as typeof state;
  } catch {
    return;
  }
  if (Array.isArray(state) || !staleRotationRecord(state.dataKeyRotation, current, previous)) return;
  log?.info(
    { stale: state.dataKeyRotation?.to, current },
    'engine state: a finished data-key rotation of an older key forgotten',
  );
  const { dataKeyRotation: _, ...rest } = state;
  await writeFile(`${stateFile}.tmp`, JSON.stringify(rest));
  await rename(`${stateFile}.tmp`, stateFile);
}

function controlOf(proc: ProcessInfo): string {
  try {
    return (JSON.parse(proc.ready || '{}') as { control?: string }).control ?? '';
  } catch {
    return '';
  }
}

/**
 * The engine's state file keeps its membership and generation record across restarts, and its
 * members win over the arguments. A replica whose server came back at another address keeps
 * its id: its address is brought up to date there (the generation record stays), so the engine
 * does not dial an address nobody listens on.
 */
export async function refreshMemberAddresses(
  stateFile: string,
  addresses: Readonly<Record<string, string>>,
  log?: Logger,
): Promise<void> {
  let text: string;
  try {
    text = await readFile(stateFile, 'utf8');
  } catch {
    return;
  }
  let state: { members?: { id: string; address: string }[] } | { id: string; address: string }[];
  try {
    state = JSON.parse(text) as typeof state;
  } catch {
    return;
  }
  const members = Array.isArray(state) ? state : (state.members ?? []);
  let changed = false;
  for (const m of members) {
    const want = addresses[m.id];
    if (want !== undefined && want !== m.address) {
      log?.info({ replica: m.id, from: m.address, to: want }, 'replica address updated in the engine state');
      m.address = want;
      changed = true;
    }
  }
  if (!changed) return;
  await writeFile(`${stateFile}.tmp`, JSON.stringify(state));
  await rename(`${stateFile}.tmp`, stateFile);
}
