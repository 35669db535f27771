import { Args, Flags } from '@oclif/core';
import { LonghornCommand, timeoutFlag, waitFlag } from '../../base-command.js';
import { PluginError } from '../../errors.js';
import { ownedSnapshotRefusal, snapshotOwners } from '../../kube/volume-snapshots.js';
import { waitUntil } from '../../output/wait.js';

export default class SnapshotDelete extends LonghornCommand {
  static override summary =
    'Delete snapshots of a volume (the operator deletes and purges them in the engine)';
  static override description =
    'While the volume is detached the Snapshot CR waits for its next attach (the operator needs the engine). A snapshot that a CSI VolumeSnapshot owns is refused unless --volume-snapshot: then its VolumeSnapshot is deleted and the CSI driver deletes the snapshot (with a Delete deletion policy).';
  static override examples = [
    'kubectl longhorn snapshot delete vol-1 vol-1-20260101120000-ab12',
    'kubectl longhorn snapshot delete vol-1 snap-a snap-b --no-wait',
    'kubectl longhorn snapshot delete pvc-0b1c2d3e snapshot-5d0e7c1a-... --volume-snapshot',
  ];
  static override strict = false;
  static override args = {
    volume: Args.string({ required: true, description: 'Volume name' }),
    snapshot: Args.string({ required: true, description: 'Snapshot name (several may follow)' }),
  };
  static override flags = {
    'volume-snapshot': Flags.boolean({
      description: 'Delete snapshots a VolumeSnapshot owns through their VolumeSnapshot',
      default: false,
    }),
    wait: waitFlag,
    timeout: timeoutFlag,
  };

  async run(): Promise<void> {
    const { args, argv, flags } = await this.parse(SnapshotDelete);
    const names = (argv as string[]).slice(1);
    const client = await this.client(flags);
    const volume = await client.get('volumes', args.volume);
    const snaps = (await client.list('snapshots')).filter((s) => s.spec.volume === args.volume);
    for (const n of names) {
      if (!snaps.some((s) => s.metadata.name === n)) {
        throw new PluginError('NOT_FOUND', `volume ${args.volume} has no snapshot "${n}"`);
      }
    }
    const { VolumeSnapshotClient } = await import('../../kube/volume-snapshot-client.js');
    const csi = new VolumeSnapshotClient(client.kubeConfig);
    const owners = snapshotOwners(await csi.contents(), args.volume);
    if (!flags['volume-snapshot']) {
      for (const n of names) {
        const owner = owners.get(n);
        if (owner !== undefined) throw new PluginError('REFUSED', ownedSnapshotRefusal(n, owner));
      }
    }
    for (const n of names) {
      const owner = owners.get(n);
      if (owner !== undefined) await csi.delete(owner.namespace, owner.name);
      else await client.delete('snapshots', n);
    }
    const attached = volume.status?.state === 'attached';
    // A VolumeSnapshot's snapshot is deleted by the CSI driver, which attaches the volume itself.
    const goes = (n: string) => {
      const o = owners.get(n);
      return o === undefined ? attached : o.deletionPolicy === 'Delete';
    };
    // A VolumeSnapshot stays (with a deletion timestamp) until the snapshot controller has
    // removed its content; "deleted" is printed only once it is gone too.
    const ownedBy = names.flatMap((n) => {
      const o = owners.get(n);
      return o === undefined ? [] : [o];
    });
    if (flags.wait && (names.some(goes) || ownedBy.length > 0)) {
      await waitUntil(
        `snapshot ${names.join(', ')} to be deleted`,
        async () => {
          const left = await Promise.all([
            ...names.filter(goes).map((n) => client.tryGet('snapshots', n)),
            ...ownedBy.map((o) => csi.get(o.namespace, o.name)),
          ]);
          return left.every((s) => s === undefined) ? true : undefined;
        },
        { timeoutMs: flags.timeout * 1000 },
      );
    }
    for (const n of names) {
      const owner = owners.get(n);
      if (owner === undefined) this.print(`snapshot.longhorn.io/${n} deleted`);
      else if (owner.deletionPolicy === 'Delete')
        this.print(`snapshot.longhorn.io/${n} deleted with VolumeSnapshot ${owner.volumeSnapshot}`);
      else
        this.print(
          `VolumeSnapshot ${owner.volumeSnapshot} deleted; snapshot.longhorn.io/${n} stays (its content ${owner.content} is ${owner.deletionPolicy})`,
        );
    }
    if (!attached && names.some((n) => !owners.has(n))) {
      this.note(`volume ${args.volume} is detached: the snapshots go once it is attached again`);
    }
  }
}
