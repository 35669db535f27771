import { Args, Flags } from '@oclif/core';
import { LonghornCommand, outputFlag, timeoutFlag, waitFlag } from '../../base-command.js';
import { PluginError, usageError } from '../../errors.js';
import { parseLabels, snapshotName, snapshotObject } from '../../kube/snapshot-spec.js';
import { renderNames, renderStructured } from '../../output/format.js';
import { waitUntil } from '../../output/wait.js';

export default class SnapshotCreate extends LonghornCommand {
  static override summary = 'Take a snapshot of a volume (a Snapshot CR)';
  static override description =
    'The operator takes it through the volume engine, so the volume must be attached; a Snapshot of a detached volume waits until it is.';
  static override examples = [
    'kubectl longhorn snapshot create vol-1',
    'kubectl longhorn snapshot create vol-1 --name before-upgrade --label app=db',
  ];
  static override args = { volume: Args.string({ required: true, description: 'Volume name' }) };
  static override flags = {
    name: Flags.string({ description: 'Snapshot name (default: <volume>-<time>-<random>)' }),
    label: Flags.string({
      char: 'l',
      description: 'Label key=value on the snapshot (repeatable)',
      multiple: true,
    }),
    output: outputFlag,
    wait: waitFlag,
    timeout: timeoutFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(SnapshotCreate);
    const labels = parseLabels(flags.label ?? []);
    if (typeof labels === 'string') throw usageError(`--label ${labels} is not key=value`);
    const client = await this.client(flags);
    const volume = await client.get('volumes', args.volume);
    const name = flags.name ?? snapshotName(args.volume, this.now());
    let snap = await client.create('snapshots', snapshotObject(name, args.volume, flags.namespace, labels));
    const attached = volume.status?.state === 'attached';
    if (!attached)
      this.note(
        `volume ${args.volume} is ${volume.status?.state || 'not attached'}: the snapshot is taken once it is attached`,
      );
    if (flags.wait && attached) {
      snap = await waitUntil(
        `snapshot ${name} to be ready`,
        async () => {
          const s = await client.get('snapshots', name);
          if (s.status?.error) throw new PluginError('FAILED', `snapshot ${name}: ${s.status.error}`);
          return s.status?.readyToUse ? s : undefined;
        },
        { timeoutMs: flags.timeout * 1000 },
      );
    }
    if (flags.output === 'json' || flags.output === 'yaml') this.print(renderStructured(flags.output, snap));
    else if (flags.output === 'name') this.print(renderNames('Snapshot', [name]));
    else this.print(`snapshot.longhorn.io/${name} created`);
  }
}
