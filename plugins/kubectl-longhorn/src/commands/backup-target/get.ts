import { DEFAULT_BACKUP_TARGET_NAME } from '@longhorn-ts/api';
import { Args } from '@oclif/core';
import { LonghornCommand, outputFlag, watchFlag } from '../../base-command.js';
import { PluginError } from '../../errors.js';
import { renderNames, renderStructured } from '../../output/format.js';
import { watchAndRender } from '../../output/watch-loop.js';
import { renderBackupTarget } from '../../render/backup.js';

export default class BackupTargetGet extends LonghornCommand {
  static override summary =
    'Show a backup target: URL, credential secret, poll interval, available and why not';
  static override examples = [
    'kubectl longhorn backup-target get',
    'kubectl longhorn backup-target get dr -o yaml',
    'kubectl longhorn backup-target get --watch',
  ];
  static override args = {
    name: Args.string({
      required: false,
      description: 'BackupTarget name',
      default: DEFAULT_BACKUP_TARGET_NAME,
    }),
  };
  static override flags = { output: outputFlag, watch: watchFlag };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(BackupTargetGet);
    const client = await this.client(flags);
    const name = args.name;
    const render = async () => {
      const target = await client.tryGet('backuptargets', name);
      if (target === undefined) {
        throw new PluginError(
          'NOT_FOUND',
          `BackupTarget "${name}" not found in namespace ${flags.namespace}; set one with kubectl longhorn backup-target set URL`,
        );
      }
      if (flags.output === 'json' || flags.output === 'yaml') return renderStructured(flags.output, target);
      if (flags.output === 'name') return renderNames('BackupTarget', [name]);
      return renderBackupTarget(target, this.now());
    };
    if (flags.watch) return watchAndRender(client, ['backuptargets'], render);
    this.print(await render());
  }
}
