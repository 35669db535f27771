import { LABEL_VOLUME } from '@longhorn-ts/api';
import { Args } from '@oclif/core';
import { LonghornCommand, outputFlag, watchFlag } from '../../base-command.js';
import { snapshotOwners } from '../../kube/volume-snapshots.js';
import { renderNames, renderStructured } from '../../output/format.js';
import { watchAndRender } from '../../output/watch-loop.js';
import { renderSnapshotRows } from '../../render/snapshot-list.js';
import { renderSnapshotTree, snapshotNodes } from '../../render/snapshot-tree.js';

export default class SnapshotList extends LonghornCommand {
  static override summary =
    "List a volume's snapshots as a tree (oldest first, volume-head last) with sizes and the VolumeSnapshot that owns each";
  static override description =
    'A snapshot taken through CSI (a VolumeSnapshot of driver.longhorn.io) is marked with its VolumeSnapshot (namespace/name), read from the VolumeSnapshotContent whose snapshotHandle is snap://<volume>/<snapshot>; -o wide has it as a column.';
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
    const { VolumeSnapshotClient } = await import('../../kube/volume-snapshot-client.js');
    const csi = new VolumeSnapshotClient(client.kubeConfig);
    const render = async () => {
      const [all, engines, contents] = await Promise.all([
        client.list('snapshots'),
        client.list('engines', `${LABEL_VOLUME}=${args.volume}`),
        csi.contents(),
      ]);
      const snaps = all.filter((s) => s.spec.volume === args.volume);
      const chain = engines[0]?.status?.snapshots;
      const owners = new Map(
        [...snapshotOwners(contents, args.volume)].map(([snap, o]) => [snap, o.volumeSnapshot]),
      );
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
          return renderSnapshotRows(snaps, this.now(), chain, owners);
        default:
          return renderSnapshotTree(snapshotNodes(snaps, chain), this.now(), owners).join('\n');
      }
    };
    if (flags.watch) return watchAndRender(client, ['snapshots', 'engines'], render);
    this.print(await render());
  }
}
