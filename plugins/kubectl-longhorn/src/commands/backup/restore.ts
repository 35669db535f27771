import { LABEL_VOLUME } from '@longhorn-ts/api';
import { Args, Flags } from '@oclif/core';
import { LonghornCommand, outputFlag, timeoutFlag, waitFlag } from '../../base-command.js';
import { PluginError } from '../../errors.js';
import { isRestoring, restoreStep } from '../../kube/backup-progress.js';
import { backupVolumeOf, restoreVolumeObject } from '../../kube/backup-spec.js';
import { formatBytes, renderNames, renderStructured } from '../../output/format.js';
import { Progress } from '../../output/progress.js';
import { waitUntil } from '../../output/wait.js';

export default class BackupRestore extends LonghornCommand {
  static override summary = 'Restore a backup into a new volume (--standby: a disaster-recovery volume)';
  static override description =
    "Creates a Volume as Longhorn does for a restore: spec.fromBackup is the backup's URL and the size that of the backed-up volume. The operator attaches it without a frontend, writes the backup's blocks into its replicas, clears status.restoreRequired and detaches it; the command follows the engine's restore progress until restoreRequired is cleared. With --standby the volume is a disaster-recovery volume (no frontend) that keeps restoring the newer backups of the same volume; the command returns once this backup is restored.";
  static override examples = [
    'kubectl longhorn backup restore backup-0123456789abcdef --to vol-1-restored',
    'kubectl longhorn backup restore backup-0123456789abcdef --to vol-1-dr --standby --replicas 2',
    'kubectl longhorn backup restore backup-0123456789abcdef --to vol-1-copy --no-wait -o yaml',
  ];
  static override args = { name: Args.string({ required: true, description: 'Backup name' }) };
  static override flags = {
    to: Flags.string({ required: true, description: 'Name of the new volume' }),
    replicas: Flags.integer({
      char: 'r',
      description: 'Number of replicas (1-20; default: the setting default-replica-count)',
    }),
    standby: Flags.boolean({
      description: 'A standby (disaster-recovery) volume that follows the newer backups of the volume',
      default: false,
    }),
    output: outputFlag,
    wait: waitFlag,
    timeout: timeoutFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(BackupRestore);
    const client = await this.client(flags);
    const backup = await client.get('backups', args.name);
    const body = restoreVolumeObject({
      name: flags.to,
      namespace: flags.namespace,
      backup,
      replicas: flags.replicas,
      standby: flags.standby,
    });
    if ((await client.tryGet('volumes', flags.to)) !== undefined) {
      throw new PluginError('REFUSED', `volume ${flags.to} already exists; restore into a new volume`);
    }
    let volume = await client.create('volumes', body);
    const source = backupVolumeOf(backup);
    if (flags.wait) {
      const progress = new Progress(`restore ${flags.to}`, {
        write: (t) => process.stderr.write(t),
        isTTY: !!process.stderr.isTTY,
      });
      let seenRestoring = false;
      let last = '';
      let finished = '';
      try {
        volume = await waitUntil(
          `volume ${flags.to} to be restored from ${args.name}`,
          async () => {
            const [v, engines] = await Promise.all([
              client.get('volumes', flags.to),
              client.list('engines', `${LABEL_VOLUME}=${flags.to}`),
            ]);
            const engine = engines[0];
            seenRestoring ||= isRestoring(v, engine);
            const step = restoreStep(v, engine, args.name, seenRestoring);
            if (step.kind === 'failed') throw new PluginError('FAILED', step.error);
            if (step.kind === 'done') {
              finished = step.step;
              return v;
            }
            last = step.step;
            progress.update(step.step, step.percent);
            return undefined;
          },
          { timeoutMs: flags.timeout * 1000 },
        );
      } catch (err) {
        if (err instanceof PluginError && err.code === 'TIMEOUT') {
          const hint = seenRestoring
            ? `last: ${last}`
            : 'the volume never reported a restore (status.restoreRequired); is the operator restoring backups?';
          throw new PluginError('TIMEOUT', `${err.message} (${hint})`);
        }
        throw err;
      }
      progress.done(`volume ${flags.to}: ${finished}`);
    }
    if (flags.output === 'json' || flags.output === 'yaml')
      this.print(renderStructured(flags.output, volume));
    else if (flags.output === 'name') this.print(renderNames('Volume', [flags.to]));
    else {
      const size = volume.spec.size ?? body.spec.size;
      const what = [size ? formatBytes(size) : '', source ? `of volume ${source}` : '']
        .filter(Boolean)
        .join(' ');
      this.print(
        `volume.longhorn.io/${flags.to} ${flags.wait ? 'restored' : 'created'} from backup ${args.name}${what ? ` (${what})` : ''}${flags.standby ? ', standby' : ''}`,
      );
    }
  }
}
