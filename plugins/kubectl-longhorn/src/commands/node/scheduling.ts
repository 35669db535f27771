import { Args } from '@oclif/core';
import { LonghornCommand } from '../../base-command.js';

export default class NodeScheduling extends LonghornCommand {
  static override summary = 'Allow (on) or stop (off) scheduling new replicas on a node';
  static override description = 'Sets spec.allowScheduling of the Node CR; replicas already there stay.';
  static override examples = [
    'kubectl longhorn node scheduling node-2 off',
    'kubectl longhorn node scheduling node-2 on',
  ];
  static override args = {
    node: Args.string({ required: true, description: 'Node name' }),
    state: Args.string({ required: true, options: ['on', 'off'], description: 'on or off' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(NodeScheduling);
    const client = await this.client(flags);
    await client.patch('nodes', args.node, { spec: { allowScheduling: args.state === 'on' } });
    this.print(`node.longhorn.io/${args.node} scheduling ${args.state === 'on' ? 'enabled' : 'disabled'}`);
  }
}
