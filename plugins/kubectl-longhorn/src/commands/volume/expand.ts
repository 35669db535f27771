import { LABEL_VOLUME } from '@longhorn-ts/api';
import { Args, Flags } from '@oclif/core';
import { LonghornCommand, timeoutFlag, waitFlag } from '../../base-command.js';
import { PluginError } from '../../errors.js';
import { sizeBytes } from '../../kube/volume-spec.js';
import { formatBytes } from '../../output/format.js';
import { Progress } from '../../output/progress.js';
import { waitUntil } from '../../output/wait.js';

export default class VolumeExpand extends LonghornCommand {
  static override summary = 'Grow a volume to a new size (online when attached)';
  static override description =
    "Sets spec.size; the operator grows the engine and every replica. Waits, with progress, until the engine serves the new size (attached) or every replica has it (detached). The file system on top is the user's to grow.";
  static override examples = ['kubectl longhorn volume expand vol-1 --size 20Gi'];
  static override args = { name: Args.string({ required: true, description: 'Volume name' }) };
  static override flags = {
    size: Flags.string({ required: true, description: 'The new size, larger than the current one' }),
    wait: waitFlag,
    timeout: timeoutFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(VolumeExpand);
    const client = await this.client(flags);
    const size = sizeBytes(flags.size);
    const volume = await client.get('volumes', args.name);
    const current = Number(volume.spec.size ?? 0);
    if (size < current) {
      throw new PluginError(
        'REFUSED',
        `volume ${args.name} is ${formatBytes(current)}; volumes only grow (asked ${formatBytes(size)})`,
      );
    }
    if (size > current) await client.patch('volumes', args.name, { spec: { size: String(size) } });
    if (!flags.wait) {
      this.print(`volume.longhorn.io/${args.name} expansion to ${formatBytes(size)} requested`);
      return;
    }
    const progress = new Progress(`expand ${args.name}`);
    const selector = `${LABEL_VOLUME}=${args.name}`;
    await waitUntil(
      `volume ${args.name} to reach ${formatBytes(size)}`,
      async () => {
        const [v, engines, replicas] = await Promise.all([
          client.get('volumes', args.name),
          client.list('engines', selector),
          client.list('replicas', selector),
        ]);
        const engine = engines[0];
        if (engine?.status?.lastExpansionError) {
          throw new PluginError(
            'FAILED',
            `volume ${args.name}: expansion failed: ${engine.status.lastExpansionError}`,
          );
        }
        const grown = replicas.filter((r) => Number(r.spec.volumeSize ?? 0) >= size).length;
        const parts = replicas.length + 1;
        if (v.status?.state === 'attached') {
          const served = Number(engine?.status?.currentSize ?? 0) >= size && !engine?.status?.isExpanding;
          progress.update(
            served ? 'engine serves the new size' : `replicas ${grown}/${replicas.length}, engine expanding`,
            ((grown + (served ? 1 : 0)) / parts) * 100,
          );
          return served ? true : undefined;
        }
        const engineSized = engine === undefined || Number(engine.spec.volumeSize ?? 0) >= size;
        progress.update(
          `replicas ${grown}/${replicas.length}`,
          ((grown + (engineSized ? 1 : 0)) / parts) * 100,
        );
        return grown === replicas.length && engineSized ? true : undefined;
      },
      { timeoutMs: flags.timeout * 1000 },
    );
    progress.done(`volume.longhorn.io/${args.name} expanded to ${formatBytes(size)}`);
  }
}
