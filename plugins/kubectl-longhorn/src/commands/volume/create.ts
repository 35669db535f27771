import { Args, Flags } from '@oclif/core';
import { LonghornCommand, outputFlag, timeoutFlag, waitFlag } from '../../base-command.js';
import { volumeFromFlags } from '../../kube/volume-spec.js';
import { renderNames, renderStructured } from '../../output/format.js';
import { Progress } from '../../output/progress.js';
import { waitUntil } from '../../output/wait.js';

export default class VolumeCreate extends LonghornCommand {
  static override summary = 'Create a volume (a Volume CR) and wait until its replicas are scheduled';
  static override description =
    'Sizes take Kubernetes units (Mi, Gi, Ti, M, G) and are rounded up to 2 MiB as Longhorn does. Options left out follow the Settings (default-replica-count, default-data-locality).';
  static override examples = [
    'kubectl longhorn volume create vol-1 --size 10Gi',
    'kubectl longhorn volume create vol-1 --size 2Gi --replicas 2 --data-locality best-effort',
    'kubectl longhorn volume create fast --size 1Gi --disk-selector ssd --node-selector storage',
    'kubectl longhorn volume create vol-1 --size 1Gi --no-wait -o yaml',
  ];
  static override args = { name: Args.string({ required: true, description: 'Volume name' }) };
  static override flags = {
    size: Flags.string({ required: true, description: 'Size, e.g. 10Gi' }),
    replicas: Flags.integer({ char: 'r', description: 'Number of replicas (1-20)' }),
    'data-locality': Flags.string({ description: 'disabled | best-effort | strict-local' }),
    'access-mode': Flags.string({ description: 'rwo | rwop | rwx' }),
    frontend: Flags.string({ description: 'blockdev (default) | nbd | iscsi | nvmf | ublk' }),
    'node-selector': Flags.string({
      description: 'Node tag every replica node must carry (repeatable)',
      multiple: true,
    }),
    'disk-selector': Flags.string({
      description: 'Disk tag every replica disk must carry (repeatable)',
      multiple: true,
    }),
    output: outputFlag,
    wait: waitFlag,
    timeout: timeoutFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(VolumeCreate);
    const body = volumeFromFlags({
      name: args.name,
      namespace: flags.namespace,
      size: flags.size,
      replicas: flags.replicas,
      dataLocality: flags['data-locality'],
      accessMode: flags['access-mode'],
      frontend: flags.frontend,
      nodeSelector: flags['node-selector'],
      diskSelector: flags['disk-selector'],
    });
    const client = await this.client(flags);
    let created = await client.create('volumes', body);
    if (flags.wait) {
      const progress = new Progress(`volume ${args.name}`, {
        write: (t) => process.stderr.write(t),
        isTTY: !!process.stderr.isTTY,
      });
      created = await waitUntil(
        `volume ${args.name} to be created (state detached, replicas scheduled)`,
        async () => {
          const v = await client.get('volumes', args.name);
          const scheduled = v.status?.conditions?.find((c) => c.type === 'Scheduled');
          progress.update(
            `state ${v.status?.state || 'pending'}, scheduled ${scheduled?.status ?? 'unknown'}`,
          );
          if (scheduled?.status === 'False') return v; // reported below, not waited for
          return v.status?.state === 'detached' && scheduled?.status === 'True' ? v : undefined;
        },
        { timeoutMs: flags.timeout * 1000 },
      );
      progress.done(`volume ${args.name}: ${created.status?.state}`);
      const scheduled = created.status?.conditions?.find((c) => c.type === 'Scheduled');
      if (scheduled?.status === 'False') {
        this.note(
          `warning: volume ${args.name} is not fully scheduled: ${scheduled.message ?? scheduled.reason ?? ''}`,
        );
      }
    }
    if (flags.output === 'json' || flags.output === 'yaml')
      this.print(renderStructured(flags.output, created));
    else if (flags.output === 'name') this.print(renderNames('Volume', [args.name]));
    else this.print(`volume.longhorn.io/${args.name} created`);
  }
}
