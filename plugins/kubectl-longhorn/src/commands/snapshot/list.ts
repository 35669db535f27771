import { LABEL_VOLUME } from '@longhorn-ts/api';
import { Args } from '@oclif/core';
import { LonghornCommand, outputFlag, watchFlag } from '../../base-command.js';
import { renderNames, renderStructured } from '../../output/format.js';
import { watchAndRender } from '../../output/watch-loop.js';
import { renderSnapshotRows } from '../../render/snapshot-list.js';
import { renderSnapshotTree, snapshotNodes } from '../../render/snapshot-tree.js';

export default class SnapshotList extends LonghornCommand {
  static override summary = "List a volume's snapshots as a tree (oldest first, volume-head last) with sizes";
  static override examples = [
    'kubectl longhorn snapshot list vol-1',
    'kubectl longhorn snapshot list vol-1 -o wide',
    'kubectl longhorn snapshot list vol-1 -o json',
  ];
  static override args = { volume: Args.string({ required: true, description: 'Volume name' }) };
  static override flags = { output: outputFlag, watch: watchFlag };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(SnapshotList);
    const client = await this.client(flags);
    await client.get('volumes', args.volume);
    const render = async () => {
      const [all, engines] = await Promise.all([
        client.list('snapshots'),
        client.list('engines', `${LABEL_VOLUME}=${args.volume}`),
      ]);
      const snaps = all.filter((s) => s.spec.volume === args.volume);
      const chain = engines[0]?.status?.snapshots;
      switch (flags.output) {
        case 'json':
        case 'yaml':
          return renderStructured(flags.output, snaps);
        case 'name':
          return renderNames(
            'Snapshot',
            snaps.map((s) => s.metadata.name),
          );
        case 'wide':
          return renderSnapshotRows(snaps, this.now(), chain);
        default:
          return renderSnapshotTree(snapshotNodes(snaps, chain), this.now()).join('\n');
      }
    };
    if (flags.watch) return watchAndRender(client, ['snapshots', 'engines'], render);
    this.print(await render());
  }
}
