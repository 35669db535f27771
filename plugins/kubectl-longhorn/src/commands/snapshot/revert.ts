import { Args } from '@oclif/core';
import { LonghornCommand } from '../../base-command.js';
import { PluginError } from '../../errors.js';
import { revertRefusal } from '../../kube/revert-check.js';

export default class SnapshotRevert extends LonghornCommand {
  static override summary = 'Revert a volume to a snapshot (the volume must be attached without a frontend)';
  static override description =
    'Longhorn reverts only in maintenance mode: attached with no frontend, so nothing reads or writes while the head moves. This command checks that first and refuses clearly otherwise. The operator of longhorn-ts does not take revert requests yet, so after the checks it stops with that message.';
  static override examples = [
    'kubectl longhorn volume detach vol-1',
    'kubectl longhorn volume attach vol-1 --node node-1 --no-frontend',
    'kubectl longhorn snapshot revert vol-1 before-upgrade',
  ];
  static override args = {
    volume: Args.string({ required: true, description: 'Volume name' }),
    snapshot: Args.string({ required: true, description: 'Snapshot name' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(SnapshotRevert);
    const client = await this.client(flags);
    const volume = await client.get('volumes', args.volume);
    const snap = await client.tryGet('snapshots', args.snapshot);
    if (!snap || snap.spec.volume !== args.volume) {
      throw new PluginError('NOT_FOUND', `volume ${args.volume} has no snapshot "${args.snapshot}"`);
    }
    const refusal = revertRefusal(volume, args.snapshot);
    if (refusal) throw new PluginError('REFUSED', refusal);
    throw new PluginError(
      'FAILED',
      `cannot revert volume ${args.volume}: the longhorn-ts operator has no revert request yet (the engine can revert; nothing asks it to)`,
    );
  }
}
