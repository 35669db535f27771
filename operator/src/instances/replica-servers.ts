/**
 * The replica server of each disk of this node, run by the node's instance manager (one
 * process hosts every replica of the disk, restarted by the instance manager when it dies).
 * Its TCP port is kept in the disk's `replica-server.json`, so after a node restart the server
 * comes back at the address the engines and the Replica CRs know.
 */

import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '@longhorn-ts/dataplane/cli/detached-process';
import type { InstanceManagerClient } from '@longhorn-ts/dataplane/instance-manager/client';
import type { ProcessInfo } from '@longhorn-ts/dataplane/instance-manager/process-supervisor';
import { parseReplicaAddress } from '@longhorn-ts/dataplane/net/replica-address';
import { ReplicaServerAdmin } from '@longhorn-ts/dataplane/protocol/admin-client';
import type { ReplicaEntryInfo } from '@longhorn-ts/dataplane/protocol/replica-registry';
import type { Logger } from 'pino';

const PORT_FILE = 'replica-server.json';
const LIST_TTL_MS = 1000;
/** Failed starts on the saved port before another port is picked. */
const PORT_GIVE_UP = 10;

export function replicaServerProcessName(diskName: string): string {
  return `replica-server-${diskName}`.slice(0, 120);
}

/** Where a disk keeps its replica directories. */
export function replicasDir(diskPath: string): string {
  return join(diskPath, 'replicas');
}

export type ServerState =
  | { state: 'running'; address: string }
  | { state: 'starting' }
  | { state: 'error'; error: string };

interface Known {
  admin?: ReplicaServerAdmin;
  address: string;
  list?: { at: number; entries: Promise<ReplicaEntryInfo[]> };
  /** The bulk-transfer budget last set on this server process (bytes/s, 0: none). */
  bulk?: number;
  pid?: number;
}

/**
 * A disk server's share of the node's rebuild/backup budget (Setting
 * node-rebuild-backup-mbytes-per-second, MiB/s): split evenly between the node's disks, so the
 * node as a whole stays within it. 0 is no limit.
 */
export function diskBulkShare(nodeMiBPerSecond: number, disks: number): number {
  if (nodeMiBPerSecond <= 0) return 0;
  return Math.max(1, Math.floor((nodeMiBPerSecond * 1024 * 1024) / Math.max(1, disks)));
}

export class ReplicaServers {
  private readonly known = new Map<string, Known>();
  private readonly starting = new Map<string, Promise<ServerState>>();
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly im: InstanceManagerClient,
    private readonly ip: string,
    private readonly log: Logger,
  ) {}

  /**
   * The disk's server, started if it is not running, with `bulk` (bytes/s, 0: none) as its
   * bulk-transfer budget: given at start, set online when it changed.
   */
  ensure(diskName: string, diskPath: string, bulk = 0): Promise<ServerState> {
    const running = this.starting.get(diskName);
    if (running !== undefined) return running;
    const p = this.doEnsure(diskName, diskPath, bulk)
      .then(async (state) => {
        if (state.state === 'running') await this.applyBulk(diskName, bulk);
        return state;
      })
      .finally(() => this.starting.delete(diskName));
    this.starting.set(diskName, p);
    return p;
  }

  /** Sets the server's bulk budget when it differs from what was last set; failures only log. */
  private async applyBulk(diskName: string, bulk: number): Promise<void> {
    const k = this.known.get(diskName);
    if (k === undefined || k.bulk === bulk) return;
    try {
      await this.withAdmin(diskName, (a) => a.bulkBandwidth(bulk));
      k.bulk = bulk;
      this.log.info({ disk: diskName, bytesPerSecond: bulk }, 'replica server bulk-transfer budget set');
    } catch (err) {
      this.log.warn({ disk: diskName, err: (err as Error).message }, 'bulk-transfer budget not set');
    }
  }

  private async doEnsure(diskName: string, diskPath: string, bulk: number): Promise<ServerState> {
    const name = replicaServerProcessName(diskName);
    let proc: ProcessInfo | undefined;
    try {
      proc = await this.im.get(name);
    } catch (err) {
      if (!isNotFound(err)) return { state: 'error', error: `instance manager: ${(err as Error).message}` };
    }
    if (proc?.state === 'running') return { state: 'running', address: this.remember(diskName, proc) };
    if (proc?.state === 'starting' || proc?.state === 'stopping') return { state: 'starting' };
    const port = await this.port(diskPath);
    const args = [
      '--listen',
      `${this.ip}:${port}`,
      '--data-dir',
      replicasDir(diskPath),
      '--open-existing',
      '--bulk-bandwidth-limit',
      String(bulk),
    ];
    try {
      const created = await this.im.create(name, 'replica-server', args, true);
      this.failures.delete(diskName);
      this.log.info({ disk: diskName, port }, 'replica server started');
      return { state: 'running', address: this.remember(diskName, created) };
    } catch (err) {
      const message = `replica server of disk ${diskName}: ${(err as { details?: string }).details ?? (err as Error).message}`;
      const failures = (this.failures.get(diskName) ?? 0) + 1;
      this.failures.set(diskName, failures);
      this.log.warn({ disk: diskName, port, failures, err: message }, 'replica server did not start');
      // The port may still be held by a server that is going away (a node restart): only
      // after repeated failures is it given up, since engines know the replicas at it.
      if (failures >= PORT_GIVE_UP) {
        this.failures.delete(diskName);
        await this.forgetPort(diskPath);
      }
      return { state: 'error', error: message };
    }
  }

  private remember(diskName: string, proc: ProcessInfo): string {
    const ready = JSON.parse(proc.ready || '{}') as { tcp?: { host: string; port: number } };
    const address = ready.tcp ? `${ready.tcp.host}:${ready.tcp.port}` : '';
    const k = this.known.get(diskName);
    if (k === undefined || k.address !== address) {
      void k?.admin?.disconnect();
      this.known.set(diskName, { address, pid: proc.pid });
    } else if (k.pid !== proc.pid) {
      // Restarted by the instance manager with the arguments it was first given.
      k.pid = proc.pid;
      k.bulk = undefined;
    }
    return address;
  }

  private async port(diskPath: string): Promise<number> {
    try {
      const saved = JSON.parse(await readFile(join(diskPath, PORT_FILE), 'utf8')) as { port?: number };
      if (typeof saved.port === 'number' && saved.port > 0) return saved.port;
    } catch {
      // None yet.
    }
    const port = await freePort(this.ip);
    const file = join(diskPath, PORT_FILE);
    await writeFile(`${file}.tmp`, JSON.stringify({ port }));
    await rename(`${file}.tmp`, file);
    return port;
  }

  private async forgetPort(diskPath: string): Promise<void> {
    await writeFile(join(diskPath, PORT_FILE), '{}').catch(() => {});
  }

  /** A management connection to the disk's server (kept and reused). */
  async admin(diskName: string): Promise<ReplicaServerAdmin> {
    const k = this.known.get(diskName);
    if (k === undefined || k.address === '')
      throw new Error(`replica server of disk ${diskName} is not running`);
    if (k.admin === undefined) k.admin = await ReplicaServerAdmin.connect(parseReplicaAddress(k.address));
    return k.admin;
  }

  /** Run `fn` on the admin connection; a broken connection is dropped so the next call reconnects. */
  async withAdmin<T>(diskName: string, fn: (admin: ReplicaServerAdmin) => Promise<T>): Promise<T> {
    const admin = await this.admin(diskName);
    try {
      return await fn(admin);
    } catch (err) {
      const k = this.known.get(diskName);
      if (k?.admin === admin && /connection|EPIPE|ECONNRESET|closed/i.test((err as Error).message)) {
        k.admin = undefined;
        void admin.disconnect();
        k.list = undefined;
      }
      throw err;
    }
  }

  /** The replicas open on the disk's server (shared by the reconciles within a second). */
  async list(diskName: string, now: number): Promise<ReplicaEntryInfo[]> {
    const k = this.known.get(diskName);
    if (k?.list !== undefined && now - k.list.at < LIST_TTL_MS) return k.list.entries;
    const entries = this.withAdmin(diskName, (a) => a.list());
    const fresh = this.known.get(diskName);
    if (fresh !== undefined) fresh.list = { at: now, entries };
    entries.catch(() => {
      if (fresh?.list?.entries === entries) fresh.list = undefined;
    });
    return entries;
  }

  /** Forget the cached list (after an open/close/create). */
  invalidate(diskName: string): void {
    const k = this.known.get(diskName);
    if (k !== undefined) k.list = undefined;
  }

  async close(): Promise<void> {
    for (const k of this.known.values()) await k.admin?.disconnect();
    this.known.clear();
  }
}

export function isNotFound(err: unknown): boolean {
  const e = err as { code?: number; details?: string; message?: string };
  return e.code === 5 || /not found|no process/i.test(e.details ?? e.message ?? '');
}
