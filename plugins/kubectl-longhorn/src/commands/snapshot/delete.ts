import { Args } from '@oclif/core';
import { LonghornCommand, timeoutFlag, waitFlag } from '../../base-command.js';
import { PluginError } from '../../errors.js';
import { waitUntil } from '../../output/wait.js';

export default class SnapshotDelete extends LonghornCommand {
  static override summary =
    'Delete snapshots of a volume (the operator deletes and purges them in the engine)';
  static override description =
    'While the volume is detached the Snapshot CR waits for its next attach (the operator needs the engine).';
  static override examples = [
    'kubectl longhorn snapshot delete vol-1 vol-1-20260101120000-ab12',
    'kubectl longhorn snapshot delete vol-1 snap-a snap-b --no-wait',
  ];
  static override strict = false;
  static override args = {
    volume: Args.string({ required: true, description: 'Volume name' }),
    snapshot: Args.string({ required: true, description: 'Snapshot name (several may follow)' }),
  };
  static override flags = { wait: waitFlag, timeout: timeoutFlag };

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
    for (const n of names) await client.delete('snapshots', n);
    const attached = volume.status?.state === 'attached';
    if (flags.wait && attached) {
      await waitUntil(
        `snapshot ${names.join(', ')} to be deleted`,
        async () => {
          const left = await Promise.all(names.map((n) => client.tryGet('snapshots', n)));
          return left.every((s) => s === undefined) ? true : undefined;
        },
        { timeoutMs: flags.timeout * 1000 },
      );
    }
    for (const n of names) this.print(`snapshot.longhorn.io/${n} deleted`);
    if (!attached) this.note(`volume ${args.volume} is detached: the snapshots go once it is attached again`);
  }
}
