import { NAMESPACE } from '@longhorn-ts/api';
import { InstanceManagerClient } from '@longhorn-ts/dataplane/instance-manager/client';
import type { ProcessInfo } from '@longhorn-ts/dataplane/instance-manager/process-supervisor';
import type { Kubectl, KubeObject } from './kubectl.js';
import { installLonghornApi } from './longhorn-api.js';
import { checkLonghornEntries, LonghornNode, type LonghornNodeRecord, logTail } from './longhorn-node.js';
import type { SimulatedNode } from './simulated-node.js';
import { TimeoutError, waitFor } from './wait.js';

export type { ProcessInfo as DataPlaneProcess };

export interface LonghornStartOptions {
  kubectl: Kubectl;
  nodes: SimulatedNode[];
  /** Told whenever a node's addresses change (the cluster keeps them in cluster.json). */
  onRecord?: (node: string, record: LonghornNodeRecord) => unknown;
  /** Skip the namespace and CRDs (already installed). */
  apiInstalled?: boolean;
  timeoutMs?: number;
}

/** The data-plane processes an instance manager runs (replica server, engines), over gRPC. */
export async function listDataPlaneProcesses(address: string, timeoutMs = 5_000): Promise<ProcessInfo[]> {
  const client = new InstanceManagerClient(address);
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      client.list(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`instance manager ${address} did not answer in ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
    client.close();
  }
}

/**
 * longhorn-ts on the simulated nodes of a cluster: on every node an instance manager and an
 * operator. `start` returns once every operator printed its ready line and a Node CR exists for
 * every node.
 */
export class LonghornSystem {
  private constructor(
    private readonly kubectl: Kubectl,
    private readonly byName: Map<string, LonghornNode>,
  ) {}

  static async start(options: LonghornStartOptions): Promise<LonghornSystem> {
    const t0 = Date.now();
    const timeoutMs = options.timeoutMs ?? 120_000;
    const remaining = () => Math.max(1_000, timeoutMs - (Date.now() - t0));
    checkLonghornEntries();
    if (!options.apiInstalled) await installLonghornApi(options.kubectl, remaining());
    const nodes = new Map(
      options.nodes.map((n) => [
        n.name,
        new LonghornNode(n, options.onRecord ? { onRecord: options.onRecord } : {}),
      ]),
    );
    const system = new LonghornSystem(options.kubectl, nodes);
    await Promise.all(
      [...nodes.values()].map(async (node) => {
        await node.startInstanceManager(remaining());
        await node.startOperator(remaining());
      }),
    );
    await system.waitForNodeCrs(remaining());
    return system;
  }

  get nodes(): LonghornNode[] {
    return [...this.byName.values()];
  }

  node(name: string): LonghornNode {
    const node = this.byName.get(name);
    if (!node) throw new Error(`no longhorn-ts node ${name} (${[...this.byName.keys()].join(', ')})`);
    return node;
  }

  /** Names of the Node CRs (nodes.longhorn.io) in longhorn-system. */
  async nodeCrNames(): Promise<string[]> {
    const items = await this.kubectl.list<KubeObject>('nodes.longhorn.io', NAMESPACE);
    return items.map((n) => n.metadata.name);
  }

  /** Waits until every node's operator created its Node CR; names the missing ones otherwise. */
  async waitForNodeCrs(timeoutMs = 60_000): Promise<void> {
    let missing: LonghornNode[] = this.nodes;
    try {
      await waitFor(
        'a Node CR (nodes.longhorn.io) per node',
        async () => {
          const names = new Set(await this.nodeCrNames());
          missing = this.nodes.filter((n) => !names.has(n.name));
          return missing.length === 0;
        },
        { timeoutMs, maxIntervalMs: 250 },
      );
    } catch (err) {
      if (!(err instanceof TimeoutError)) throw err;
      const tails = await Promise.all(
        missing.map(async (n) => {
          const log = n.operator?.logFile;
          return log ? `----- ${n.name} operator (${log}), last 20 lines -----\n${await logTail(log)}` : '';
        }),
      );
      throw new Error(
        `no Node CR for ${missing.map((n) => n.name).join(', ')} after ${timeoutMs} ms: ` +
          `their operators did not create one\n${tails.join('\n')}`,
      );
    }
  }
}
