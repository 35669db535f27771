import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ManagedProcess } from './managed-process.js';
import { freePort } from './ports.js';
import { logOffset, waitForReadyLine } from './ready-line.js';
import type { SimulatedNode } from './simulated-node.js';

/** Repository root, the same from test/src/harness (vitest) and test/dist/harness (the CLI). */
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The compiled process entries that make a node of longhorn-ts. */
export const INSTANCE_MANAGER_ENTRY = join(REPO_ROOT, 'dataplane/dist/instance-manager/main.js');
/** LONGHORN_TS_OPERATOR_ENTRY points elsewhere (an operator built in another tree, a stand-in). */
export const OPERATOR_ENTRY =
  process.env.LONGHORN_TS_OPERATOR_ENTRY ?? join(REPO_ROOT, 'operator/dist/main.js');

export class MissingEntryError extends Error {
  readonly code = 'MISSING_ENTRY';
  constructor(readonly entry: string) {
    super(
      `${entry} does not exist: build the workspaces with \`npx tsc -b\` (cluster up starts the instance ` +
        'manager and the operator on every node; `--no-longhorn` starts a bare control plane)',
    );
  }
}

/** Throws a MissingEntryError for the first compiled entry that is not there. */
export function checkLonghornEntries(): void {
  for (const entry of [INSTANCE_MANAGER_ENTRY, OPERATOR_ENTRY]) {
    if (!existsSync(entry)) throw new MissingEntryError(entry);
  }
}

/** What the instance manager prints when its gRPC service answers. */
export interface InstanceManagerReady {
  node: string;
  address: string;
  pid: number;
}

/** What the operator prints once its informers synced. */
export interface OperatorReady {
  node: string;
  metrics: string;
  pid: number;
}

/** A node's longhorn-ts addresses, kept in cluster.json for `cluster status`. */
export interface LonghornNodeRecord {
  instanceManager: string;
  metrics?: string;
}

export interface LonghornNodeOptions {
  /** Told whenever an address changes, to record it in the cluster's state. */
  onRecord?: (node: string, record: LonghornNodeRecord) => unknown;
}

/** The last `lines` lines of a log file, for error messages. */
export async function logTail(path: string, lines = 20): Promise<string> {
  const text = await readFile(path, 'utf8').catch((err: Error) => `(unreadable: ${err.message})`);
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * The longhorn-ts processes of one simulated node: its instance manager (which runs the node's
 * replica server and engines) and its operator, started in that order, each waited for until it
 * printed its ready line.
 */
export class LonghornNode {
  private im: ManagedProcess | undefined;
  private op: ManagedProcess | undefined;
  private imAddress: string | undefined;
  private metrics: string | undefined;

  constructor(
    readonly node: SimulatedNode,
    private readonly options: LonghornNodeOptions = {},
  ) {}

  get name(): string {
    return this.node.name;
  }

  /** host:port of the instance manager's gRPC service (once started). */
  get instanceManagerAddress(): string {
    if (!this.imAddress) throw new Error(`${this.name}: the instance manager has not started`);
    return this.imAddress;
  }

  /** host:port of the node's operator's Prometheus endpoint. */
  get metricsAddress(): string {
    if (!this.metrics) throw new Error(`${this.name}: the operator has not started`);
    return this.metrics;
  }

  get instanceManager(): ManagedProcess | undefined {
    return this.im;
  }

  get operator(): ManagedProcess | undefined {
    return this.op;
  }

  /** Where the instance manager writes the logs of the data-plane processes it runs. */
  get dataPlaneLogDir(): string {
    return join(this.node.dataDir, 'logs');
  }

  /** Starts the instance manager on the node's address; resolves with its address. */
  async startInstanceManager(timeoutMs = 60_000): Promise<string> {
    if (!existsSync(INSTANCE_MANAGER_ENTRY)) throw new MissingEntryError(INSTANCE_MANAGER_ENTRY);
    // A fixed port, so a restarted instance manager is found where the operator knows it.
    const port = this.imAddress
      ? Number(this.imAddress.split(':').at(-1))
      : await freePort(this.node.address);
    const listen = `${this.node.address}:${port}`;
    const proc = await this.startProcess('instance-manager', [
      INSTANCE_MANAGER_ENTRY,
      '--node',
      this.name,
      '--listen',
      listen,
      '--log-dir',
      this.dataPlaneLogDir,
    ]);
    this.im = proc.proc;
    const ready = await this.ready<InstanceManagerReady>('instance manager', proc, ['address'], timeoutMs);
    this.imAddress = ready.address;
    await this.record();
    return ready.address;
  }

  /** Starts the operator against this node's instance manager; resolves with its ready line. */
  async startOperator(timeoutMs = 60_000): Promise<OperatorReady> {
    if (!existsSync(OPERATOR_ENTRY)) throw new MissingEntryError(OPERATOR_ENTRY);
    const metricsPort = this.metrics
      ? Number(this.metrics.split(':').at(-1))
      : await freePort(this.node.address);
    const proc = await this.startProcess('operator', [
      OPERATOR_ENTRY,
      '--instance-manager',
      this.instanceManagerAddress,
      '--metrics',
      `${this.node.address}:${metricsPort}`,
    ]);
    this.op = proc.proc;
    const ready = await this.ready<OperatorReady>('operator', proc, ['node', 'metrics', 'pid'], timeoutMs);
    this.metrics = ready.metrics;
    await this.record();
    return ready;
  }

  /** SIGKILL of the operator alone: the node's data plane goes on. */
  async killOperator(): Promise<void> {
    await this.op?.kill();
  }

  async stopOperator(graceMs = 10_000): Promise<void> {
    await this.op?.stop(graceMs);
  }

  /** SIGKILL of the instance manager; its data-plane processes exit with it. */
  async killInstanceManager(): Promise<void> {
    await this.im?.kill();
  }

  private async startProcess(
    name: string,
    args: string[],
  ): Promise<{ proc: ManagedProcess; offset: number }> {
    const logFile = this.node.logFile(name);
    const offset = await logOffset(logFile);
    const proc = await this.node.start({ name, command: process.execPath, args });
    return { proc, offset };
  }

  private async ready<T extends object>(
    what: string,
    started: { proc: ManagedProcess; offset: number },
    keys: string[],
    timeoutMs: number,
  ): Promise<T> {
    try {
      return await waitForReadyLine<T>(`${this.name}'s ${what}`, started.proc, keys, {
        offset: started.offset,
        timeoutMs,
      });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new Error(
        `node ${this.name}: ${what} did not start: ${message}\n` +
          `----- ${started.proc.logFile}, last 20 lines -----\n${await logTail(started.proc.logFile)}`,
      );
    }
  }

  private async record(): Promise<void> {
    if (!this.imAddress) return;
    await this.options.onRecord?.(this.name, {
      instanceManager: this.imAddress,
      ...(this.metrics ? { metrics: this.metrics } : {}),
    });
  }
}
