import { randomBytes } from 'node:crypto';
import {
  isTicketSatisfied,
  LABEL_VOLUME,
  parseRevertResult,
  SNAPSHOT_REVERT_REQUEST_ANNOTATION,
  type SnapshotRevertRequest,
} from '@longhorn-ts/api';
import { Args, Flags } from '@oclif/core';
import { LonghornCommand, timeoutFlag } from '../../base-command.js';
import { PluginError } from '../../errors.js';
import type { LonghornClient } from '../../kube/client.js';
import { maintenanceNode, revertRefusal } from '../../kube/revert-check.js';
import {
  addTicketPatch,
  attachmentWithTicket,
  pluginTicket,
  pluginTicketId,
  removeTicketPatch,
} from '../../kube/tickets.js';
import { Progress } from '../../output/progress.js';
import { waitUntil } from '../../output/wait.js';

export default class SnapshotRevert extends LonghornCommand {
  static override summary = 'Revert a volume to a snapshot (in maintenance mode: no frontend)';
  static override description =
    "Longhorn reverts only in maintenance mode: attached with no frontend, so nothing reads or writes while the head moves. A volume attached with its frontend is refused. A detached volume is attached in maintenance mode with the plugin's ticket (on --node, else a node holding a healthy replica), reverted, and detached again. The revert itself is a request on the volume's Engine CR that the operator on the engine's node carries out (engine SnapshotRevert) and answers; snapshots newer than the target stay.";
  static override examples = [
    'kubectl longhorn snapshot revert vol-1 before-upgrade',
    'kubectl longhorn snapshot revert vol-1 before-upgrade --node node-2',
  ];
  static override args = {
    volume: Args.string({ required: true, description: 'Volume name' }),
    snapshot: Args.string({ required: true, description: 'Snapshot name' }),
  };
  static override flags = {
    node: Flags.string({ description: 'Node to attach a detached volume to for the revert' }),
    timeout: timeoutFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(SnapshotRevert);
    const client = await this.client(flags);
    const volume = await client.get('volumes', args.volume);
    const snap = await client.tryGet('snapshots', args.snapshot);
    if (!snap || snap.spec.volume !== args.volume) {
      throw new PluginError('NOT_FOUND', `volume ${args.volume} has no snapshot "${args.snapshot}"`);
    }
    const refusal = revertRefusal(volume, args.snapshot);
    if (refusal) throw new PluginError('REFUSED', refusal);
    const timeoutMs = flags.timeout * 1000;
    const progress = new Progress(`revert ${args.volume}`);

    let attachedHere = false;
    if (volume.status?.state === 'detached') {
      const selector = `${LABEL_VOLUME}=${args.volume}`;
      const [replicas, nodes] = await Promise.all([client.list('replicas', selector), client.list('nodes')]);
      const node = flags.node ?? maintenanceNode(replicas, nodes);
      if (node === undefined) {
        throw new PluginError(
          'REFUSED',
          `volume ${args.volume} has no healthy replica on a ready node to revert`,
        );
      }
      await this.attachForMaintenance(client, args.volume, node, flags.namespace, progress, timeoutMs);
      attachedHere = true;
    }
    try {
      await this.revert(client, args.volume, args.snapshot, progress, timeoutMs);
    } finally {
      if (attachedHere) {
        await client.patch('volumeattachments', args.volume, removeTicketPatch(args.volume));
        progress.update('detaching');
        await waitUntil(
          `volume ${args.volume} to detach`,
          async () =>
            (await client.get('volumes', args.volume)).status?.state === 'detached' ? true : undefined,
          { timeoutMs },
        );
      }
    }
    progress.done(`volume.longhorn.io/${args.volume} reverted to snapshot ${args.snapshot}`);
  }

  private async attachForMaintenance(
    client: LonghornClient,
    volume: string,
    node: string,
    namespace: string,
    progress: Progress,
    timeoutMs: number,
  ): Promise<void> {
    const ticket = pluginTicket(volume, node, true);
    if (await client.tryGet('volumeattachments', volume)) {
      await client.patch('volumeattachments', volume, addTicketPatch(ticket));
    } else {
      await client.create('volumeattachments', attachmentWithTicket(volume, namespace, ticket));
    }
    const id = pluginTicketId(volume);
    try {
      await waitUntil(
        `volume ${volume} to attach to ${node} in maintenance mode`,
        async () => {
          const [v, va] = await Promise.all([
            client.get('volumes', volume),
            client.get('volumeattachments', volume),
          ]);
          progress.update(`attaching to ${node} without a frontend: ${v.status?.state || 'pending'}`);
          const ok =
            isTicketSatisfied(va, id) && v.status?.state === 'attached' && v.status.frontendDisabled === true;
          return ok ? true : undefined;
        },
        { timeoutMs },
      );
    } catch (err) {
      await client.patch('volumeattachments', volume, removeTicketPatch(volume));
      throw err;
    }
  }

  private async revert(
    client: LonghornClient,
    volume: string,
    snapshot: string,
    progress: Progress,
    timeoutMs: number,
  ): Promise<void> {
    const engines = await client.list('engines', `${LABEL_VOLUME}=${volume}`);
    const engine = engines.find((e) => e.metadata.deletionTimestamp === undefined);
    if (engine === undefined) throw new PluginError('FAILED', `volume ${volume} has no engine`);
    const request: SnapshotRevertRequest = { id: randomBytes(6).toString('hex'), snapshot };
    await client.patch('engines', engine.metadata.name, {
      metadata: { annotations: { [SNAPSHOT_REVERT_REQUEST_ANNOTATION]: JSON.stringify(request) } },
    });
    progress.update(`reverting to ${snapshot}`);
    const result = await waitUntil(
      `the operator to revert volume ${volume} to ${snapshot}`,
      async () => {
        const e = await client.get('engines', engine.metadata.name);
        const r = parseRevertResult(e.metadata.annotations);
        return r?.id === request.id ? r : undefined;
      },
      { timeoutMs },
    );
    if (result.error !== '')
      throw new PluginError('FAILED', `cannot revert volume ${volume}: ${result.error}`);
  }
}
