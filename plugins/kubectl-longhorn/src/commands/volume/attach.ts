import { isTicketSatisfied } from '@longhorn-ts/api';
import { Args, Flags } from '@oclif/core';
import { LonghornCommand, timeoutFlag, waitFlag } from '../../base-command.js';
import { PluginError } from '../../errors.js';
import { addTicketPatch, attachmentWithTicket, pluginTicket, pluginTicketId } from '../../kube/tickets.js';
import { Progress } from '../../output/progress.js';
import { waitUntil } from '../../output/wait.js';

export default class VolumeAttach extends LonghornCommand {
  static override summary =
    "Attach a volume to a node with the plugin's own attachment ticket (type longhorn-api)";
  static override description =
    'Adds the ticket longhorn-api-<volume> to the VolumeAttachment <volume>; other tickets (CSI, snapshots) are left alone. --no-frontend attaches in maintenance mode (no block device), as a snapshot revert needs.';
  static override examples = [
    'kubectl longhorn volume attach vol-1 --node node-1',
    'kubectl longhorn volume attach vol-1 --node node-1 --no-frontend',
  ];
  static override args = { name: Args.string({ required: true, description: 'Volume name' }) };
  static override flags = {
    node: Flags.string({ required: true, description: 'The node to attach to' }),
    'no-frontend': Flags.boolean({
      description: 'Attach without a frontend (maintenance mode)',
      default: false,
    }),
    wait: waitFlag,
    timeout: timeoutFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(VolumeAttach);
    const client = await this.client(flags);
    await client.get('volumes', args.name);
    await client.get('nodes', flags.node);
    const ticket = pluginTicket(args.name, flags.node, flags['no-frontend']);
    if (await client.tryGet('volumeattachments', args.name)) {
      await client.patch('volumeattachments', args.name, addTicketPatch(ticket));
    } else {
      await client.create('volumeattachments', attachmentWithTicket(args.name, flags.namespace, ticket));
    }
    if (flags.wait) {
      const progress = new Progress(`attach ${args.name}`);
      const id = pluginTicketId(args.name);
      await waitUntil(
        `volume ${args.name} to attach to ${flags.node}`,
        async () => {
          const [v, va] = await Promise.all([
            client.get('volumes', args.name),
            client.get('volumeattachments', args.name),
          ]);
          progress.update(`state ${v.status?.state || 'pending'}`);
          const st = va.status?.attachmentTicketStatuses?.[id];
          const c = st?.conditions?.find((x) => x.type === 'Satisfied' && x.status === 'False' && x.message);
          if (c && v.status?.currentNodeID && v.status.currentNodeID !== flags.node) {
            throw new PluginError('CONFLICT', `volume ${args.name}: ${c.message}`);
          }
          return isTicketSatisfied(va, id) && v.status?.state === 'attached' ? v : undefined;
        },
        { timeoutMs: flags.timeout * 1000 },
      );
      progress.done(`volume.longhorn.io/${args.name} attached to ${flags.node}`);
      return;
    }
    this.print(`volume.longhorn.io/${args.name} attach requested on ${flags.node}`);
  }
}
