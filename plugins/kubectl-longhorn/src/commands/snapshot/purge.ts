import { Args } from '@oclif/core';
import { LonghornCommand, timeoutFlag, waitFlag } from '../../base-command.js';
import { PluginError } from '../../errors.js';
import { waitUntil } from '../../output/wait.js';
import { snapshotNodes } from '../../render/snapshot-tree.js';

export default class SnapshotPurge extends LonghornCommand {
  static override summary =
    "Purge a volume's system snapshots (those rebuilds and expansions made) and removed ones";
  static override description =
    'The longhorn-ts operator purges the chain whenever a Snapshot CR is deleted (SnapshotDelete then SnapshotPurge in the engine) and takes no separate purge request, so this deletes the Snapshot CRs of system-made and removed snapshots; user snapshots stay.';
  static override examples = ['kubectl longhorn snapshot purge vol-1'];
  static override args = { volume: Args.string({ required: true, description: 'Volume name' }) };
  static override flags = { wait: waitFlag, timeout: timeoutFlag };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(SnapshotPurge);
    const client = await this.client(flags);
    const volume = await client.get('volumes', args.volume);
    if (volume.status?.state !== 'attached') {
      throw new PluginError(
        'REFUSED',
        `volume ${args.volume} is ${volume.status?.state || 'not attached'}: purging needs its engine; attach it first`,
      );
    }
    const snaps = (await client.list('snapshots')).filter((s) => s.spec.volume === args.volume);
    const targets = snapshotNodes(snaps)
      .filter((s) => !s.userCreated || s.removed)
      .map((s) => s.name);
    for (const n of targets) await client.delete('snapshots', n);
    if (flags.wait && targets.length > 0) {
      await waitUntil(
        `${targets.length} snapshot(s) of ${args.volume} to be purged`,
        async () => {
          const left = await Promise.all(targets.map((n) => client.tryGet('snapshots', n)));
          return left.every((s) => s === undefined) ? true : undefined;
        },
        { timeoutMs: flags.timeout * 1000 },
      );
    }
    this.print(
      `volume ${args.volume}: ${targets.length} snapshot(s) purged${targets.length ? ` (${targets.join(', ')})` : ''}`,
    );
  }
}
