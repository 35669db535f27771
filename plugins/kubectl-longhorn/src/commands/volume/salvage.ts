import { LABEL_VOLUME } from '@longhorn-ts/api';
import { Args, Flags } from '@oclif/core';
import { LonghornCommand, timeoutFlag, waitFlag } from '../../base-command.js';
import { PluginError } from '../../errors.js';
import { salvagePlan } from '../../kube/salvage-plan.js';
import { Progress } from '../../output/progress.js';
import { waitUntil } from '../../output/wait.js';

export default class VolumeSalvage extends LonghornCommand {
  static override summary = 'Bring a faulted volume back from replicas that failed (Longhorn salvage)';
  static override description =
    "For a faulted, detached volume (auto-salvage off, or it could not help): clears spec.failedAt of the chosen replicas, as Longhorn's manager does, and asks the engine to start from the best of them (Engine spec.salvageRequested; writes the failed replicas never got may be lost). The operator then reattaches the volume for whoever holds a ticket. Without --replica: every failed replica that held data, on a node that is up and a schedulable disk.";
  static override examples = [
    'kubectl longhorn volume salvage vol-1',
    'kubectl longhorn volume salvage vol-1 --replica vol-1-r-3f2a1b --replica vol-1-r-77c0d1',
  ];
  static override args = { name: Args.string({ required: true, description: 'Volume name' }) };
  static override flags = {
    replica: Flags.string({ char: 'r', description: 'A replica to salvage (repeatable)', multiple: true }),
    wait: waitFlag,
    timeout: timeoutFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(VolumeSalvage);
    const client = await this.client(flags);
    const selector = `${LABEL_VOLUME}=${args.name}`;
    const [volume, replicas, nodes, engines] = await Promise.all([
      client.get('volumes', args.name),
      client.list('replicas', selector),
      client.list('nodes'),
      client.list('engines', selector),
    ]);
    const plan = salvagePlan(volume, replicas, nodes, flags.replica ?? []);
    if ('refusal' in plan) throw new PluginError(plan.code, plan.refusal);
    for (const name of plan.replicas) {
      const r = replicas.find((x) => x.metadata.name === name);
      if (r?.spec.failedAt) await client.patch('replicas', name, { spec: { failedAt: '' } });
    }
    // Our engine, unlike Longhorn's, refuses to start from replicas that all failed at once
    // unless told it may lose writes they never got: the user's salvage is that consent.
    const engine = engines.find((e) => e.metadata.deletionTimestamp === undefined);
    if (engine !== undefined && !engine.spec.salvageRequested) {
      await client.patch('engines', engine.metadata.name, { spec: { salvageRequested: true } });
    }
    this.print(`volume.longhorn.io/${args.name} salvaging replicas ${plan.replicas.join(', ')}`);
    if (!flags.wait) return;
    // With a ticket the operator reattaches it: wait for that; without one it stays detached,
    // no longer faulted, and that is the salvage done.
    const va = await client.tryGet('volumeattachments', args.name);
    const held = Object.keys(va?.spec.attachmentTickets ?? {}).length > 0;
    const progress = new Progress(`salvage ${args.name}`);
    const v = await waitUntil(
      held ? `volume ${args.name} to be attached again` : `volume ${args.name} to leave the faulted state`,
      async () => {
        const now = await client.get('volumes', args.name);
        const r = now.status?.robustness ?? '';
        progress.update(`${now.status?.state || 'pending'}, ${r || 'unknown'}`);
        if (r === 'faulted') return undefined;
        if (!held) return now;
        return now.status?.state === 'attached' && (r === 'healthy' || r === 'degraded') ? now : undefined;
      },
      { timeoutMs: flags.timeout * 1000 },
    );
    progress.done(
      `volume.longhorn.io/${args.name} salvaged: ${v.status?.state ?? ''}, ${v.status?.robustness ?? 'unknown'}`,
    );
  }
}
