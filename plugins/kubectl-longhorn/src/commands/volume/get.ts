import { Args } from '@oclif/core';
import { LonghornCommand, outputFlag, watchFlag } from '../../base-command.js';
import { fetchVolumeDetail } from '../../kube/volume-detail.js';
import { renderNames, renderStructured } from '../../output/format.js';
import { watchAndRender } from '../../output/watch-loop.js';
import { renderVolumeDetail } from '../../render/volume.js';

export default class VolumeGet extends LonghornCommand {
  static override summary =
    'Show one volume: engine, replicas (node, zone, mode, health, rebuild), snapshot tree, conditions, attachments, events';
  static override description =
    'With -o json or -o yaml it prints the Volume object itself; the table view gathers the Engine, Replicas, Snapshots, VolumeAttachment and Events of the volume.';
  static override examples = [
    'kubectl longhorn volume get vol-1',
    'kubectl longhorn volume get vol-1 -o yaml',
    'kubectl longhorn volume get vol-1 --watch   # follow a rebuild',
  ];
  static override args = { name: Args.string({ required: true, description: 'Volume name' }) };
  static override flags = { output: outputFlag, watch: watchFlag };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(VolumeGet);
    const client = await this.client(flags);
    const render = async () => {
      if (flags.output === 'json' || flags.output === 'yaml') {
        return renderStructured(flags.output, await client.get('volumes', args.name));
      }
      if (flags.output === 'name') {
        return renderNames('Volume', [(await client.get('volumes', args.name)).metadata.name]);
      }
      return renderVolumeDetail(await fetchVolumeDetail(client, args.name), this.now());
    };
    if (flags.watch) {
      return watchAndRender(
        client,
        ['volumes', 'engines', 'replicas', 'snapshots', 'volumeattachments'],
        render,
      );
    }
    this.print(await render());
  }
}
