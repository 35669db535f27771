import { isAbsolute } from 'node:path';
import { Args, Flags } from '@oclif/core';
import { LonghornCommand } from '../../../base-command.js';
import { PluginError, usageError } from '../../../errors.js';
import { parseSize } from '../../../output/format.js';

export default class NodeDiskAdd extends LonghornCommand {
  static override summary = 'Add a disk (a directory on the node) to a Longhorn node';
  static override examples = [
    'kubectl longhorn node disk add node-1 --path /mnt/ssd1 --tag ssd',
    'kubectl longhorn node disk add node-1 --path /mnt/big --name big --reserved 10Gi --no-scheduling',
  ];
  static override args = { node: Args.string({ required: true, description: 'Node name' }) };
  static override flags = {
    path: Flags.string({ required: true, description: 'Absolute path of the directory on the node' }),
    name: Flags.string({ description: 'Disk name (default: disk-<last path part>)' }),
    tag: Flags.string({ description: 'Disk tag (repeatable)', multiple: true }),
    reserved: Flags.string({ description: 'Space kept free of replicas, e.g. 10Gi', default: '0' }),
    scheduling: Flags.boolean({ description: 'Allow replicas on it', default: true, allowNo: true }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(NodeDiskAdd);
    if (!isAbsolute(flags.path)) throw usageError(`--path ${flags.path} must be absolute`);
    const reserved = flags.reserved === '0' ? 0 : parseSize(flags.reserved);
    if (reserved === undefined) throw usageError(`--reserved ${flags.reserved} is not a size`);
    const client = await this.client(flags);
    const node = await client.get('nodes', args.node);
    const name =
      flags.name ??
      `disk-${
        flags.path
          .split('/')
          .filter(Boolean)
          .pop()
          ?.toLowerCase()
          .replace(/[^a-z0-9-]/g, '-') ?? 'root'
      }`;
    const disks = node.spec.disks ?? {};
    if (disks[name]) throw new PluginError('CONFLICT', `node ${args.node} already has a disk named ${name}`);
    const same = Object.entries(disks).find(([, d]) => d.path === flags.path);
    if (same)
      throw new PluginError('CONFLICT', `node ${args.node} already has disk ${same[0]} at ${flags.path}`);
    await client.patch('nodes', args.node, {
      spec: {
        disks: {
          [name]: {
            path: flags.path,
            diskType: 'filesystem',
            allowScheduling: flags.scheduling,
            evictionRequested: false,
            storageReserved: reserved,
            tags: flags.tag ?? [],
          },
        },
      },
    });
    this.print(`node.longhorn.io/${args.node} disk ${name} added at ${flags.path}`);
  }
}
