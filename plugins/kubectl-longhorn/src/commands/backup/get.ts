import { Args } from '@oclif/core';
import { LonghornCommand, outputFlag, watchFlag } from '../../base-command.js';
import { renderNames, renderStructured } from '../../output/format.js';
import { watchAndRender } from '../../output/watch-loop.js';
import { renderBackupDetail } from '../../render/backup.js';

export default class BackupGet extends LonghornCommand {
  static override summary = 'Show one backup: volume, snapshot, state and progress, sizes, compression, URL';
  static override examples = [
    'kubectl longhorn backup get backup-0123456789abcdef',
    'kubectl longhorn backup get backup-0123456789abcdef -o yaml',
    'kubectl longhorn backup get backup-0123456789abcdef --watch   # follow its progress',
  ];
  static override args = { name: Args.string({ required: true, description: 'Backup name' }) };
  static override flags = { output: outputFlag, watch: watchFlag };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(BackupGet);
    const client = await this.client(flags);
    const render = async () => {
      const backup = await client.get('backups', args.name);
      if (flags.output === 'json' || flags.output === 'yaml') return renderStructured(flags.output, backup);
      if (flags.output === 'name') return renderNames('Backup', [backup.metadata.name]);
      return renderBackupDetail(backup, this.now());
    };
    if (flags.watch) return watchAndRender(client, ['backups'], render);
    this.print(await render());
  }
}
