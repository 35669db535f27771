import { DEFAULT_BACKUP_TARGET_NAME } from '@longhorn-ts/api';
import { Args, Flags } from '@oclif/core';
import { LonghornCommand, outputFlag, timeoutFlag, waitFlag } from '../../base-command.js';
import { notFound, PluginError, usageError } from '../../errors.js';
import { targetStep, targetUnavailableMessage } from '../../kube/backup-progress.js';
import {
  backupTargetObject,
  backupTargetPatch,
  backupTargetUrlProblem,
  missingCredentialKeys,
  pollIntervalValue,
} from '../../kube/backup-target-spec.js';
import { renderNames, renderStructured } from '../../output/format.js';
import { Progress } from '../../output/progress.js';
import { waitUntil } from '../../output/wait.js';

export default class BackupTargetSet extends LonghornCommand {
  static override summary = 'Point a backup target (default: "default") at an S3 bucket or NFS export';
  static override description =
    'Checks the URL (s3://BUCKET@REGION/PATH, nfs://SERVER:/PATH, also cifs:// and azblob://), the poll interval (a duration such as 5m, stored as Go prints it: 5m0s) and that the credential Secret exists in the namespace (for S3, with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_IAM_ROLE_ARN) before anything is sent. Creates the BackupTarget CR when there is none; flags left out keep their current values. Then waits, with progress, until the operator finds the target available, and fails with its reason when it is not. A MinIO Secret: kubectl -n longhorn-system create secret generic minio-secret --from-literal=AWS_ACCESS_KEY_ID=KEY --from-literal=AWS_SECRET_ACCESS_KEY=SECRET --from-literal=AWS_ENDPOINTS=http://minio:9000';
  static override examples = [
    'kubectl longhorn backup-target set s3://backups@us-east-1/longhorn --credential-secret minio-secret',
    'kubectl longhorn backup-target set nfs://nfs.example.com:/exports/backups --poll-interval 10m',
    'kubectl longhorn backup-target set s3://dr@eu-west-1/ --name dr --credential-secret aws --no-wait',
  ];
  static override args = {
    url: Args.string({
      required: true,
      description: 'Backup target URL: s3://BUCKET@REGION/PATH or nfs://SERVER:/PATH',
    }),
  };
  static override flags = {
    name: Flags.string({ description: 'BackupTarget name', default: DEFAULT_BACKUP_TARGET_NAME }),
    'credential-secret': Flags.string({
      description:
        'Secret in the namespace with the credentials (S3: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINTS)',
    }),
    'poll-interval': Flags.string({
      description:
        'How often the operator syncs the backups in the target, e.g. 5m; 0s stops it (default 5m)',
    }),
    output: outputFlag,
    wait: waitFlag,
    timeout: timeoutFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(BackupTargetSet);
    const url = args.url.trim();
    const urlProblem = backupTargetUrlProblem(url);
    if (urlProblem !== undefined) throw usageError(urlProblem);
    let pollInterval: string | undefined;
    if (flags['poll-interval'] !== undefined) {
      const v = pollIntervalValue(flags['poll-interval']);
      if (typeof v !== 'string') throw usageError(v.error);
      pollInterval = v;
    }
    const secret = flags['credential-secret']?.trim();
    const client = await this.client(flags);
    const existing = await client.tryGet('backuptargets', flags.name);
    const secretName = secret ?? existing?.spec.credentialSecret ?? '';
    if (secretName !== '') {
      const keys = await client.secretKeys(secretName);
      if (keys === undefined) throw notFound('Secret', secretName, flags.namespace);
      const missing = missingCredentialKeys(url, keys);
      if (missing.length > 0) {
        throw new PluginError(
          'REFUSED',
          `Secret ${secretName} has no ${missing.join(' or ')}: an S3 target needs them (or AWS_IAM_ROLE_ARN)`,
        );
      }
    } else if (url.startsWith('s3://')) {
      this.note(
        `warning: no --credential-secret: the S3 target ${url} is reached without credentials unless the nodes have an IAM role`,
      );
    }
    const since = new Date(Math.floor(this.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
    const before = existing ? targetUnavailableMessage(existing) : undefined;
    const input = { url, credentialSecret: secret, pollInterval, syncRequestedAt: since };
    let target = existing
      ? await client.patch('backuptargets', flags.name, backupTargetPatch(input))
      : await client.create('backuptargets', backupTargetObject(flags.name, flags.namespace, input));
    if (flags.wait) {
      const progress = new Progress(`backup target ${flags.name}`, {
        write: (t) => process.stderr.write(t),
        isTTY: !!process.stderr.isTTY,
      });
      let last = '';
      try {
        target = await waitUntil(
          `backup target ${flags.name} to be available`,
          async () => {
            const t = await client.get('backuptargets', flags.name);
            const step = targetStep(t, since, before);
            if (step.kind === 'failed') throw new PluginError('FAILED', step.error);
            last = step.step;
            progress.update(step.step);
            return step.kind === 'done' ? t : undefined;
          },
          { timeoutMs: flags.timeout * 1000 },
        );
      } catch (err) {
        if (err instanceof PluginError && err.code === 'TIMEOUT' && last !== '') {
          throw new PluginError('TIMEOUT', `${err.message} (last: ${last})`);
        }
        throw err;
      }
      progress.done(`backup target ${flags.name}: available`);
    }
    if (flags.output === 'json' || flags.output === 'yaml')
      this.print(renderStructured(flags.output, target));
    else if (flags.output === 'name') this.print(renderNames('BackupTarget', [flags.name]));
    else this.print(`backuptarget.longhorn.io/${flags.name} set to ${url}`);
  }
}
