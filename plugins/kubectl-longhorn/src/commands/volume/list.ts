import { LonghornCommand, outputFlag, watchFlag } from '../../base-command.js';
import { noResources, renderNames, renderStructured } from '../../output/format.js';
import { watchAndRender } from '../../output/watch-loop.js';
import { renderVolumeList } from '../../render/volume.js';

export default class VolumeList extends LonghornCommand {
  static override summary = 'List volumes with their state, robustness, size and node';
  static override examples = [
    'kubectl longhorn volume list',
    'kubectl longhorn volume list -o wide',
    'kubectl longhorn volume list -o name',
    'kubectl longhorn volume list --watch',
  ];
  static override flags = { output: outputFlag, watch: watchFlag };

  async run(): Promise<void> {
    const { flags } = await this.parse(VolumeList);
    const client = await this.client(flags);
    const render = async () => {
      const volumes = await client.list('volumes');
      switch (flags.output) {
        case 'json':
        case 'yaml':
          return renderStructured(flags.output, volumes);
        case 'name':
          return renderNames(
            'Volume',
            volumes.map((v) => v.metadata.name),
          );
        default:
          if (volumes.length === 0) return '';
          return renderVolumeList(volumes, flags.output === 'wide', this.now());
      }
    };
    if (flags.watch) return watchAndRender(client, ['volumes'], render);
    const text = await render();
    if (text === '') this.note(noResources(flags.namespace));
    else this.print(text);
  }
}
