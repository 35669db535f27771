import { backupCommand } from './backup-command.js';
import { demo } from './demo.js';
import { volumeCommand } from './volume-command.js';

const USAGE = `usage: longhorn-local <volume|backup|cluster|demo> ...
  volume ...   a local replicated volume on simulated nodes (longhorn-local volume help)
  backup ...   backups on a target: list, delete (longhorn-local backup help)
  cluster ...  a local Kubernetes control plane with simulated nodes
  demo         bring up a local replicated volume, show it working, serve until Ctrl-C`;

/** Entry point of the `longhorn-local` tool (data-plane commands). */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'volume':
        return await volumeCommand(rest);
      case 'backup':
        return await backupCommand(rest);
      case 'demo':
        return await demo(rest);
      case undefined:
      case 'help':
      case '--help':
        console.log(USAGE);
        return command ? 0 : 2;
      default:
        console.error(`longhorn-local: unknown command ${command}\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    console.error(`longhorn-local ${command}: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
