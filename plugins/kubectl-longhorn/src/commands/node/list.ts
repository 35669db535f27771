import { LonghornCommand, outputFlag, watchFlag } from '../../base-command.js';
import { noResources, renderNames, renderStructured } from '../../output/format.js';
import { watchAndRender } from '../../output/watch-loop.js';
import { renderNodeList } from '../../render/node.js';

export default class NodeList extends LonghornCommand {
  static override summary =
    'List Longhorn nodes: readiness, scheduling, zone, tags, space used/scheduled/reserved, problems';
  static override description =
    'With -o wide a second table lists every disk with its path, conditions, tags, space and replica count.';
  static override examples = [
    'kubectl longhorn node list',
    'kubectl longhorn node list -o wide',
    'kubectl longhorn node list -o yaml',
  ];
  static override flags = { output: outputFlag, watch: watchFlag };

  async run(): Promise<void> {
    const { flags } = await this.parse(NodeList);
    const client = await this.client(flags);
    const render = async () => {
      const nodes = await client.list('nodes');
      switch (flags.output) {
        case 'json':
        case 'yaml':
          return renderStructured(flags.output, nodes);
        case 'name':
          return renderNames(
            'Node',
            nodes.map((n) => n.metadata.name),
          );
        default:
          return nodes.length === 0 ? '' : renderNodeList(nodes, flags.output === 'wide', this.now());
      }
    };
    if (flags.watch) return watchAndRender(client, ['nodes'], render);
    const text = await render();
    if (text === '') this.note(noResources(flags.namespace));
    else this.print(text);
  }
}
