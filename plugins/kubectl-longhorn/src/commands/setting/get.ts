import { Args } from '@oclif/core';
import { LonghornCommand, outputFlag } from '../../base-command.js';
import { renderNames, renderStructured } from '../../output/format.js';
import { renderSettingList } from '../../render/setting.js';

export default class SettingGet extends LonghornCommand {
  static override summary = "Print a setting's value";
  static override description = 'Plain output is the value alone (for scripts); -o wide the table row.';
  static override examples = [
    'kubectl longhorn setting get default-replica-count',
    'kubectl longhorn setting get default-replica-count -o yaml',
  ];
  static override args = { name: Args.string({ required: true, description: 'Setting name' }) };
  static override flags = { output: outputFlag };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(SettingGet);
    const setting = await (await this.client(flags)).get('settings', args.name);
    if (flags.output === 'json' || flags.output === 'yaml')
      this.print(renderStructured(flags.output, setting));
    else if (flags.output === 'name') this.print(renderNames('Setting', [args.name]));
    else if (flags.output === 'wide') this.print(renderSettingList([setting], true));
    else process.stdout.write(`${setting.value}\n`);
  }
}
