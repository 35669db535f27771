import { LABEL_VOLUME } from '@longhorn-ts/api';
import { Args, Flags } from '@oclif/core';
import { LonghornCommand, timeoutFlag } from '../../../base-command.js';
import { PluginError } from '../../../errors.js';
import { Progress } from '../../../output/progress.js';
import { waitUntil } from '../../../output/wait.js';
import { replicaRow } from '../../../render/volume.js';

export default class VolumeReplicaRemove extends LonghornCommand {
  static override summary = 'Remove one replica of a volume (the operator schedules and rebuilds a new one)';
  static override description =
    'Refuses to remove the last healthy replica unless --force. With --wait-rebuild it then follows the rebuild of the replacement with a progress bar until the volume is healthy again.';
  static override examples = [
    'kubectl longhorn volume replica remove vol-1 vol-1-r-3f2a1b',
    'kubectl longhorn volume replica remove vol-1 vol-1-r-3f2a1b --wait-rebuild',
  ];
  static override args = {
    volume: Args.string({ required: true, description: 'Volume name' }),
    replica: Args.string({ required: true, description: 'Replica name (see volume get)' }),
  };
  static override flags = {
    force: Flags.boolean({ description: 'Remove even the last healthy replica', default: false }),
    'wait-rebuild': Flags.boolean({ description: 'Wait until the volume is healthy again', default: false }),
    timeout: timeoutFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(VolumeReplicaRemove);
    const client = await this.client(flags);
    const volume = await client.get('volumes', args.volume);
    const selector = `${LABEL_VOLUME}=${args.volume}`;
    const [replicas, engines, nodes] = await Promise.all([
      client.list('replicas', selector),
      client.list('engines', selector),
      client.list('nodes'),
    ]);
    const replica = replicas.find((r) => r.metadata.name === args.replica);
    if (!replica) {
      throw new PluginError(
        'NOT_FOUND',
        `volume ${args.volume} has no replica "${args.replica}"; its replicas: ${replicas.map((r) => r.metadata.name).join(', ') || 'none'}`,
      );
    }
    const healthyOthers = replicas
      .filter((r) => r.metadata.name !== args.replica)
      .filter((r) => ['healthy', 'healthy (detached)'].includes(replicaRow(r, engines[0], nodes).health));
    if (healthyOthers.length === 0 && !flags.force) {
      throw new PluginError(
        'REFUSED',
        `replica ${args.replica} is the last healthy copy of volume ${args.volume}; removing it loses the data (use --force to do it anyway)`,
      );
    }
    await client.delete('replicas', args.replica);
    this.print(`replica.longhorn.io/${args.replica} removed from volume ${args.volume}`);
    if (!flags['wait-rebuild']) return;
    if (volume.status?.state !== 'attached') {
      this.note(`volume ${args.volume} is detached: the replacement is rebuilt at the next attach`);
      return;
    }
    const progress = new Progress(`rebuild ${args.volume}`);
    await waitUntil(
      `volume ${args.volume} to be healthy again`,
      async () => {
        const [v, es] = await Promise.all([
          client.get('volumes', args.volume),
          client.list('engines', selector),
        ]);
        const rebuilding = Object.values(es[0]?.status?.rebuildStatus ?? {}).find((s) => s.isRebuilding);
        const gone = !(await client.list('replicas', selector)).some((r) => r.metadata.name === args.replica);
        if (rebuilding) progress.update('rebuilding', rebuilding.progress ?? 0);
        else progress.update(`${v.status?.robustness || 'unknown'}, waiting for a new replica`);
        const modes = Object.entries(es[0]?.status?.replicaModeMap ?? {}).filter(([n]) => n !== args.replica);
        const rw = modes.filter(([, m]) => m === 'RW').length;
        const wanted = v.spec.numberOfReplicas ?? replicas.length;
        return gone && v.status?.robustness === 'healthy' && !rebuilding && rw >= wanted ? true : undefined;
      },
      { timeoutMs: flags.timeout * 1000 },
    );
    progress.done(`volume ${args.volume} is healthy`);
  }
}
