import { Args, Flags } from '@oclif/core';
import { LonghornCommand, timeoutFlag, waitFlag } from '../../base-command.js';
import { PluginError } from '../../errors.js';
import { otherTickets } from '../../kube/tickets.js';
import { waitUntil } from '../../output/wait.js';

export default class VolumeDelete extends LonghornCommand {
  static override summary = 'Delete a volume with its engine, replicas (and their data) and snapshots';
  static override description =
    'Refuses a volume that another requester (a pod through CSI, a snapshot) holds attached unless --force.';
  static override examples = [
    'kubectl longhorn volume delete vol-1',
    'kubectl longhorn volume delete vol-1 --no-wait',
  ];
  static override args = { name: Args.string({ required: true, description: 'Volume name' }) };
  static override flags = {
    force: Flags.boolean({
      description: 'Delete even while another requester holds it attached',
      default: false,
    }),
    wait: waitFlag,
    timeout: timeoutFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(VolumeDelete);
    const client = await this.client(flags);
    await client.get('volumes', args.name);
    const others = otherTickets(await client.tryGet('volumeattachments', args.name), args.name);
    if (others.length > 0 && !flags.force) {
      throw new PluginError(
        'REFUSED',
        `volume ${args.name} is attached for ${others.join(', ')}; detach it there first or use --force`,
      );
    }
    await client.delete('volumes', args.name);
    if (flags.wait) {
      await waitUntil(
        `volume ${args.name} to be deleted`,
        async () => ((await client.tryGet('volumes', args.name)) === undefined ? true : undefined),
        { timeoutMs: flags.timeout * 1000 },
      );
    }
    this.print(`volume.longhorn.io/${args.name} deleted`);
  }
}
