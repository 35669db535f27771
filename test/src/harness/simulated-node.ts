import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ManagedProcess } from './managed-process.js';
import type { NodeSpec } from './node-specs.js';

export interface NodeProcessSpec {
  /** Name within the node, e.g. `instance-manager`; logged as `<node>/<name>`. */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

export interface SimulatedNodeOptions {
  spec: NodeSpec;
  /** The node's own data directory (disks, replica directories). */
  dataDir: string;
  logDir: string;
  kubeconfig: string;
  outliveParent?: boolean;
  /** Told about every process started, e.g. to record it in the cluster's state file. */
  onStart?: (proc: ManagedProcess) => unknown;
}

/**
 * A "node" of ours: a set of processes sharing NODE_NAME, a data directory and a loopback
 * address. Stopping it is a clean shutdown; killing it is losing the machine.
 */
export class SimulatedNode {
  private readonly procs: ManagedProcess[] = [];

  constructor(private readonly options: SimulatedNodeOptions) {
    mkdirSync(options.dataDir, { recursive: true });
  }

  get name(): string {
    return this.options.spec.name;
  }

  get address(): string {
    return this.options.spec.address;
  }

  get dataDir(): string {
    return this.options.dataDir;
  }

  get spec(): NodeSpec {
    return this.options.spec;
  }

  /** The environment every process of this node sees. */
  env(): NodeJS.ProcessEnv {
    const { spec } = this.options;
    return {
      ...process.env,
      NODE_NAME: spec.name,
      NODE_IP: spec.address,
      NODE_ZONE: spec.zone,
      NODE_REGION: spec.region,
      NODE_DATA_DIR: this.options.dataDir,
      KUBECONFIG: this.options.kubeconfig,
    };
  }

  /** The log file of this node's process `name` (appended to across restarts). */
  logFile(name: string): string {
    return join(this.options.logDir, `${this.name}-${name}.log`);
  }

  async start(proc: NodeProcessSpec): Promise<ManagedProcess> {
    const started = ManagedProcess.start({
      name: `${this.name}/${proc.name}`,
      command: proc.command,
      args: proc.args,
      env: { ...this.env(), ...proc.env },
      cwd: this.options.dataDir,
      logFile: this.logFile(proc.name),
      outliveParent: this.options.outliveParent ?? false,
    });
    this.procs.push(started);
    await this.options.onStart?.(started);
    return started;
  }

  get processes(): readonly ManagedProcess[] {
    return this.procs;
  }

  get running(): boolean {
    return this.procs.some((p) => p.running);
  }

  /** SIGTERM every process of the node, SIGKILL after graceMs. */
  async stop(graceMs = 10_000): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop(graceMs)));
    this.procs.length = 0;
  }

  /** SIGKILL every process of the node at once: the node is lost. */
  async kill(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.kill()));
    this.procs.length = 0;
  }
}
