import { Args } from '@oclif/core';
import { LonghornCommand } from '../../../base-command.js';
import { PluginError } from '../../../errors.js';

export default class NodeDiskRemove extends LonghornCommand {
  static override summary = 'Remove a disk from a Longhorn node (refused while replicas are on it)';
  static override description =
    'Turn scheduling off for the disk and move or remove its replicas first; the data directory on the node is left as it is.';
  static override examples = ['kubectl longhorn node disk remove node-1 disk-ssd1'];
  static override args = {
    node: Args.string({ required: true, description: 'Node name' }),
    disk: Args.string({ required: true, description: 'Disk name (see node list -o wide)' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(NodeDiskRemove);
    const client = await this.client(flags);
    const node = await client.get('nodes', args.node);
    if (!node.spec.disks?.[args.disk]) {
      throw new PluginError(
        'NOT_FOUND',
        `node ${args.node} has no disk "${args.disk}"; its disks: ${Object.keys(node.spec.disks ?? {}).join(', ') || 'none'}`,
      );
    }
    const replicas = Object.keys(node.status?.diskStatus?.[args.disk]?.scheduledReplica ?? {});
    if (replicas.length > 0) {
      throw new PluginError(
        'REFUSED',
        `disk ${args.disk} of node ${args.node} still holds ${replicas.length} replica(s) (${replicas.join(', ')}); remove them first`,
      );
    }
    await client.patch('nodes', args.node, { spec: { disks: { [args.disk]: null } } });
    this.print(`node.longhorn.io/${args.node} disk ${args.disk} removed`);
  }
}
