import { LABEL_BACKUP_VOLUME } from '@longhorn-ts/api';
import { Args } from '@oclif/core';
import { LonghornCommand, outputFlag, watchFlag } from '../../base-command.js';
import { noResources, renderNames, renderStructured } from '../../output/format.js';
import { watchAndRender } from '../../output/watch-loop.js';
import { renderBackupList } from '../../render/backup.js';

export default class BackupList extends LonghornCommand {
  static override summary = 'List backups (of one volume): volume, snapshot, size, state, created';
  static override description =
    'One row per Backup CR, newest first; a running backup shows its progress (InProgress 42%). The operator also lists backups it finds in the backup target, so backups of volumes deleted here, or made by another cluster, show too. -o wide adds the target, compression and URL.';
  static override examples = [
    'kubectl longhorn backup list',
    'kubectl longhorn backup list vol-1',
    'kubectl longhorn backup list vol-1 -o wide',
    'kubectl longhorn backup list --watch',
  ];
  static override args = {
    volume: Args.string({ required: false, description: 'Only the backups of this volume' }),
  };
  static override flags = { output: outputFlag, watch: watchFlag };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(BackupList);
    const client = await this.client(flags);
    const selector = args.volume === undefined ? undefined : `${LABEL_BACKUP_VOLUME}=${args.volume}`;
    const render = async () => {
      const backups = await client.list('backups', selector);
      switch (flags.output) {
        case 'json':
        case 'yaml':
          return renderStructured(flags.output, backups);
        case 'name':
          return renderNames(
            'Backup',
            backups.map((b) => b.metadata.name),
          );
        default:
          if (backups.length === 0) return '';
          return renderBackupList(backups, flags.output === 'wide', this.now());
      }
    };
    if (flags.watch) return watchAndRender(client, ['backups'], render);
    const text = await render();
    if (text === '') this.note(noResources(flags.namespace));
    else this.print(text);
  }
}
