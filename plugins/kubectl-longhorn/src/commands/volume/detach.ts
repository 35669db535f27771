import { Args } from '@oclif/core';
import { LonghornCommand, timeoutFlag, waitFlag } from '../../base-command.js';
import { PluginError } from '../../errors.js';
import { otherTickets, pluginTicketId, removeTicketPatch } from '../../kube/tickets.js';
import { waitUntil } from '../../output/wait.js';

export default class VolumeDetach extends LonghornCommand {
  static override summary = "Detach a volume: remove the plugin's attachment ticket";
  static override description =
    'Only the ticket `volume attach` made is removed; while other requesters (a pod via CSI) hold tickets the volume stays attached, and the command says for whom.';
  static override examples = ['kubectl longhorn volume detach vol-1'];
  static override args = { name: Args.string({ required: true, description: 'Volume name' }) };
  static override flags = { wait: waitFlag, timeout: timeoutFlag };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(VolumeDetach);
    const client = await this.client(flags);
    await client.get('volumes', args.name);
    const va = await client.tryGet('volumeattachments', args.name);
    const others = otherTickets(va, args.name);
    if (!va?.spec.attachmentTickets?.[pluginTicketId(args.name)]) {
      throw new PluginError(
        'REFUSED',
        others.length > 0
          ? `volume ${args.name} was not attached by kubectl longhorn; it is held by ${others.join(', ')}`
          : `volume ${args.name} has no attachment ticket of kubectl longhorn: it is not attached by this plugin`,
      );
    }
    await client.patch('volumeattachments', args.name, removeTicketPatch(args.name));
    if (others.length > 0) {
      this.print(`volume.longhorn.io/${args.name} ticket removed; still attached for ${others.join(', ')}`);
      return;
    }
    if (flags.wait) {
      await waitUntil(
        `volume ${args.name} to detach`,
        async () =>
          (await client.get('volumes', args.name)).status?.state === 'detached' ? true : undefined,
        { timeoutMs: flags.timeout * 1000 },
      );
    }
    this.print(`volume.longhorn.io/${args.name} detached`);
  }
}
