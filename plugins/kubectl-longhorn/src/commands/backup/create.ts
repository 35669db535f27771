import { BACKUP_MODES, type Backup, DEFAULT_BACKUP_TARGET_NAME, type Snapshot } from '@longhorn-ts/api';
import { Args, Flags } from '@oclif/core';
import { LonghornCommand, outputFlag, timeoutFlag, waitFlag } from '../../base-command.js';
import { PluginError, usageError } from '../../errors.js';
import { backupStep, targetUnavailableMessage } from '../../kube/backup-progress.js';
import { backupName, backupObject } from '../../kube/backup-spec.js';
import type { LonghornClient } from '../../kube/client.js';
import { parseLabels, snapshotName, snapshotObject } from '../../kube/snapshot-spec.js';
import { renderNames, renderStructured } from '../../output/format.js';
import { Progress } from '../../output/progress.js';
import { waitUntil } from '../../output/wait.js';

export default class BackupCreate extends LonghornCommand {
  static override summary = 'Back up a volume to its backup target (a fresh snapshot, or --snapshot)';
  static override description =
    "Checks that the backup target (the volume's spec.backupTargetName, else \"default\") is available, takes a snapshot of the attached volume unless --snapshot names one of its snapshots, and creates a Backup CR as Longhorn's manager does (named backup-<16 hex>, labelled backup-volume=<volume>). The operator uploads the snapshot's changed blocks; the command follows its progress to Completed and prints the backup URL, which `backup restore` and a Volume's fromBackup take.";
  static override examples = [
    'kubectl longhorn backup create vol-1',
    'kubectl longhorn backup create vol-1 --snapshot before-upgrade --label app=db',
    'kubectl longhorn backup create vol-1 --mode full',
    'kubectl longhorn backup create vol-1 --no-wait -o name',
  ];
  static override args = { volume: Args.string({ required: true, description: 'Volume name' }) };
  static override flags = {
    snapshot: Flags.string({
      char: 's',
      description: 'Back up this snapshot of the volume (default: take one now)',
    }),
    label: Flags.string({
      char: 'l',
      description: 'Label key=value on the backup (repeatable)',
      multiple: true,
    }),
    mode: Flags.option({
      options: BACKUP_MODES,
      description:
        'incremental (default): only blocks changed since the last backup; full: every block uploaded again',
    })(),
    output: outputFlag,
    wait: waitFlag,
    timeout: timeoutFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(BackupCreate);
    const labels = parseLabels(flags.label ?? []);
    if (typeof labels === 'string') throw usageError(`--label ${labels} is not key=value`);
    if (flags.snapshot !== undefined && flags.snapshot.trim() === '')
      throw usageError('--snapshot needs a name');
    const client = await this.client(flags);
    const volume = await client.get('volumes', args.volume);
    const targetName = volume.spec.backupTargetName || DEFAULT_BACKUP_TARGET_NAME;
    await this.checkTarget(client, targetName);
    const deadline = this.now() + flags.timeout * 1000;
    const attached = volume.status?.state === 'attached';
    const progress = new Progress(`backup ${args.volume}`, {
      write: (t) => process.stderr.write(t),
      isTTY: !!process.stderr.isTTY,
    });
    let snapshot: string;
    if (flags.snapshot !== undefined) {
      snapshot = flags.snapshot;
      const snap = await client.get('snapshots', snapshot);
      if (snap.spec.volume !== args.volume) {
        throw usageError(`snapshot ${snapshot} is of volume ${snap.spec.volume}, not ${args.volume}`);
      }
      if (snap.status?.error) throw new PluginError('FAILED', `snapshot ${snapshot}: ${snap.status.error}`);
      if (!attached) {
        this.note(
          `volume ${args.volume} is ${volume.status?.state || 'not attached'}: the backup runs once it is attached`,
        );
      }
    } else {
      if (!attached) {
        throw new PluginError(
          'REFUSED',
          `volume ${args.volume} is ${volume.status?.state || 'not attached'}: a snapshot is taken through its engine; attach it (kubectl longhorn volume attach ${args.volume} --node NODE) or back up an existing snapshot with --snapshot`,
        );
      }
      snapshot = snapshotName(args.volume, this.now());
      await client.create('snapshots', snapshotObject(snapshot, args.volume, flags.namespace, {}));
      await this.waitSnapshot(client, snapshot, progress, deadline);
    }
    const name = backupName();
    let backup = await client.create(
      'backups',
      backupObject({
        name,
        namespace: flags.namespace,
        volume: args.volume,
        snapshot,
        target: targetName,
        labels,
        mode: flags.mode,
      }),
    );
    if (flags.wait) {
      backup = await this.waitBackup(client, name, progress, deadline);
      progress.done(`backup ${name} of volume ${args.volume}: completed`);
    }
    if (flags.output === 'json' || flags.output === 'yaml')
      this.print(renderStructured(flags.output, backup));
    else if (flags.output === 'name') this.print(renderNames('Backup', [name]));
    else if (flags.wait) this.print(`backup.longhorn.io/${name} completed: ${backup.status?.url ?? ''}`);
    else this.print(`backup.longhorn.io/${name} created (snapshot ${snapshot})`);
  }

  /** Longhorn's webhook refuses a backup while its target is unavailable: say so first, and why. */
  private async checkTarget(client: LonghornClient, name: string): Promise<void> {
    const target = await client.tryGet('backuptargets', name);
    const hint = 'set it with kubectl longhorn backup-target set URL';
    if (target === undefined)
      throw new PluginError('REFUSED', `there is no backup target "${name}"; ${hint}`);
    if (!target.spec.backupTargetURL)
      throw new PluginError('REFUSED', `backup target "${name}" has no URL; ${hint}`);
    if (target.status?.available !== true) {
      const why = targetUnavailableMessage(target) ?? 'the operator has not checked it yet';
      throw new PluginError(
        'REFUSED',
        `backup target "${name}" (${target.spec.backupTargetURL}) is not available: ${why}; see kubectl longhorn backup-target get ${name}`,
      );
    }
  }

  private async waitSnapshot(
    client: LonghornClient,
    name: string,
    progress: Progress,
    deadline: number,
  ): Promise<Snapshot> {
    return waitUntil(
      `snapshot ${name} to be ready`,
      async () => {
        const s = await client.get('snapshots', name);
        if (s.status?.error) throw new PluginError('FAILED', `snapshot ${name}: ${s.status.error}`);
        progress.update(`taking snapshot ${name}`);
        return s.status?.readyToUse ? s : undefined;
      },
      { timeoutMs: Math.max(1000, deadline - this.now()) },
    );
  }

  private async waitBackup(
    client: LonghornClient,
    name: string,
    progress: Progress,
    deadline: number,
  ): Promise<Backup> {
    let last = '';
    try {
      return await waitUntil(
        `backup ${name} to complete`,
        async () => {
          const b = await client.get('backups', name);
          const step = backupStep(b);
          if (step.kind === 'failed') throw new PluginError('FAILED', step.error);
          if (step.kind === 'done') return b;
          last = step.step;
          progress.update(step.step, step.percent);
          return undefined;
        },
        { timeoutMs: Math.max(1000, deadline - this.now()) },
      );
    } catch (err) {
      if (err instanceof PluginError && err.code === 'TIMEOUT' && last !== '') {
        throw new PluginError(
          'TIMEOUT',
          `${err.message} (last: ${last}); the backup goes on: kubectl longhorn backup get ${name}`,
        );
      }
      throw err;
    }
  }
}
