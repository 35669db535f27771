import { Args, Flags } from '@oclif/core';
import { LonghornCommand } from '../base-command.js';
import { diagnoseSystem } from '../doctor/diagnose-system.js';
import { diagnoseVolume } from '../doctor/diagnose-volume.js';
import { type Finding, renderFindings } from '../doctor/findings.js';
import { PluginError } from '../errors.js';
import { fetchVolumeDetail } from '../kube/volume-detail.js';
import { renderStructured } from '../output/format.js';

export default class Doctor extends LonghornCommand {
  static override summary =
    'Health summary of Longhorn, or why one volume is degraded, faulted or unscheduled';
  static override description =
    'Reads conditions, replica and engine state, attachment tickets and events, and says for each problem what to do next. Exits 0 when it could look (problems or not) unless --fail-on-problems.';
  static override examples = [
    'kubectl longhorn doctor',
    'kubectl longhorn doctor vol-1',
    'kubectl longhorn doctor --fail-on-problems   # exit 1 on any error finding',
  ];
  static override args = { volume: Args.string({ required: false, description: 'A volume to diagnose' }) };
  static override flags = {
    output: Flags.option({
      char: 'o',
      options: ['table', 'json', 'yaml'] as const,
      default: 'table' as const,
    })(),
    'fail-on-problems': Flags.boolean({ description: 'Exit 1 when an error is found', default: false }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Doctor);
    const client = await this.client(flags);
    let findings: Finding[];
    if (args.volume) {
      findings = diagnoseVolume(await fetchVolumeDetail(client, args.volume), this.now());
    } else {
      const [nodes, volumes, settings, instanceManagers, events] = await Promise.all([
        client.list('nodes'),
        client.list('volumes'),
        client.list('settings'),
        client.list('instancemanagers'),
        client.events(),
      ]);
      findings = diagnoseSystem({ nodes, volumes, settings, instanceManagers, events });
    }
    if (flags.output === 'table') this.print(renderFindings(findings));
    else this.print(renderStructured(flags.output, findings));
    const errors = findings.filter((f) => f.severity === 'error').length;
    if (flags['fail-on-problems'] && errors > 0)
      throw new PluginError('FAILED', `doctor found ${errors} error(s)`);
  }
}
