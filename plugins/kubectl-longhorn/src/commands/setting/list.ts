import { LonghornCommand, outputFlag, watchFlag } from '../../base-command.js';
import { renderNames, renderStructured } from '../../output/format.js';
import { watchAndRender } from '../../output/watch-loop.js';
import { renderSettingList } from '../../render/setting.js';

export default class SettingList extends LonghornCommand {
  static override summary = 'List settings with their value, default and whether the operator applied them';
  static override examples = ['kubectl longhorn setting list', 'kubectl longhorn setting list -o wide'];
  static override flags = { output: outputFlag, watch: watchFlag };

  async run(): Promise<void> {
    const { flags } = await this.parse(SettingList);
    const client = await this.client(flags);
    const render = async () => {
      const settings = await client.list('settings');
      switch (flags.output) {
        case 'json':
        case 'yaml':
          return renderStructured(flags.output, settings);
        case 'name':
          return renderNames(
            'Setting',
            settings.map((s) => s.metadata.name),
          );
        default:
          return renderSettingList(settings, flags.output === 'wide');
      }
    };
    if (flags.watch) return watchAndRender(client, ['settings'], render);
    this.print(await render());
  }
}
