import { Args, Flags } from '@oclif/core';
import { LonghornCommand, timeoutFlag, waitFlag } from '../../base-command.js';
import { PluginError } from '../../errors.js';
import { evictionPatch, replicasLeft } from '../../kube/eviction.js';
import { Progress } from '../../output/progress.js';
import { waitUntil } from '../../output/wait.js';

export default class NodeEvict extends LonghornCommand {
  static override summary = 'Move every replica off a node (or one of its disks)';
  static override description =
    'Sets evictionRequested (and allowScheduling false, which eviction needs) on the Node CR or on one disk. The operator marks the replicas there for eviction; each volume gets a new replica elsewhere, rebuilds it, then removes the evicted one, so volumes stay healthy throughout. Waits until nothing is left there (a progress line per change). --cancel withdraws the request; scheduling stays off until `node scheduling NODE on`.';
  static override examples = [
    'kubectl longhorn node evict node-2',
    'kubectl longhorn node evict node-2 --disk default-disk-8370c8f92ccbcee8',
    'kubectl longhorn node evict node-2 --cancel',
  ];
  static override args = { node: Args.string({ required: true, description: 'Node name' }) };
  static override flags = {
    disk: Flags.string({ description: 'Evict only this disk (see node list -o wide)' }),
    cancel: Flags.boolean({ description: 'Withdraw the eviction request', default: false }),
    wait: waitFlag,
    timeout: timeoutFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(NodeEvict);
    const client = await this.client(flags);
    const node = await client.get('nodes', args.node);
    const where = flags.disk === undefined ? `node ${args.node}` : `disk ${flags.disk} of node ${args.node}`;
    if (flags.disk !== undefined && !node.spec.disks?.[flags.disk]) {
      throw new PluginError(
        'NOT_FOUND',
        `node ${args.node} has no disk "${flags.disk}"; its disks: ${Object.keys(node.spec.disks ?? {}).join(', ') || 'none'}`,
      );
    }
    await client.patch('nodes', args.node, evictionPatch(flags.disk, flags.cancel));
    const ref = `node.longhorn.io/${args.node}${flags.disk === undefined ? '' : ` disk ${flags.disk}`}`;
    if (flags.cancel) {
      this.print(
        `${ref} eviction cancelled (scheduling stays off: kubectl longhorn node scheduling ${args.node} on)`,
      );
      return;
    }
    if (!flags.wait) {
      this.print(`${ref} eviction requested`);
      return;
    }
    const progress = new Progress(`evict ${where}`);
    await waitUntil(
      `every replica to leave ${where}`,
      async () => {
        const [n, replicas] = await Promise.all([client.get('nodes', args.node), client.list('replicas')]);
        const left = replicasLeft(n, replicas, flags.disk);
        progress.update(left.length === 0 ? 'empty' : `${left.length} replica(s) left: ${left.join(', ')}`);
        return left.length === 0 ? true : undefined;
      },
      { timeoutMs: flags.timeout * 1000, intervalMs: 1000 },
    );
    progress.done(`${ref} evicted: no replicas left`);
  }
}
