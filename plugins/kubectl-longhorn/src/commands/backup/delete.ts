import { Args } from '@oclif/core';
import { LonghornCommand, timeoutFlag, waitFlag } from '../../base-command.js';
import { PluginError } from '../../errors.js';
import { Progress } from '../../output/progress.js';
import { waitUntil } from '../../output/wait.js';

export default class BackupDelete extends LonghornCommand {
  static override summary = 'Delete a backup, in the cluster and in the backup target';
  static override description =
    'Deletes the Backup CR; the operator removes the backup from the backup target (its cfg, then the blocks no other backup uses) before the CR goes. Waits until it is gone; --no-wait returns at once.';
  static override examples = [
    'kubectl longhorn backup delete backup-0123456789abcdef',
    'kubectl longhorn backup delete backup-0123456789abcdef --no-wait',
  ];
  static override args = { name: Args.string({ required: true, description: 'Backup name' }) };
  static override flags = { wait: waitFlag, timeout: timeoutFlag };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(BackupDelete);
    const client = await this.client(flags);
    await client.delete('backups', args.name);
    if (!flags.wait) {
      this.print(`backup.longhorn.io/${args.name} deletion requested`);
      return;
    }
    const progress = new Progress(`delete ${args.name}`, {
      write: (t) => process.stderr.write(t),
      isTTY: !!process.stderr.isTTY,
    });
    await waitUntil(
      `backup ${args.name} to be deleted from the backup target`,
      async () => {
        const b = await client.tryGet('backups', args.name);
        if (b === undefined) return true;
        if (b.status?.state === 'Error' && b.status.error) {
          progress.update(`the operator reports: ${b.status.error}`);
        } else {
          progress.update('removing it from the backup target');
        }
        return undefined;
      },
      { timeoutMs: flags.timeout * 1000 },
    ).catch((err: unknown) => {
      if (err instanceof PluginError && err.code === 'TIMEOUT') {
        throw new PluginError(
          'TIMEOUT',
          `${err.message}; the Backup CR is still there (its finalizer waits for the operator): kubectl longhorn backup get ${args.name}`,
        );
      }
      throw err;
    });
    progress.done(`backup ${args.name}: removed from the backup target`);
    this.print(`backup.longhorn.io/${args.name} deleted`);
  }
}
