/**
 * What every command shares: kubectl's global flags (--kubeconfig, --context, -n), the output
 * flags, the typed client built from them, and writing to stdout. Errors are not handled here:
 * they leave `run()` and become an exit code in `main.ts`.
 */
import { NAMESPACE } from '@longhorn-ts/api';
import { Command, Flags } from '@oclif/core';
import type { LonghornClient } from './kube/client.js';
import { OUTPUT_FORMATS } from './output/format.js';

export const globalFlags = {
  kubeconfig: Flags.string({
    description: 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)',
    helpGroup: 'GLOBAL',
  }),
  context: Flags.string({ description: 'The name of the kubeconfig context to use', helpGroup: 'GLOBAL' }),
  namespace: Flags.string({
    char: 'n',
    description: 'The namespace Longhorn runs in',
    default: NAMESPACE,
    helpGroup: 'GLOBAL',
  }),
};

export const outputFlag = Flags.option({
  char: 'o',
  options: OUTPUT_FORMATS,
  default: 'table' as const,
  description: 'Output format',
})();

export const watchFlag = Flags.boolean({
  char: 'w',
  description: 'After printing, watch for changes and print again on each (Ctrl-C stops)',
  default: false,
});

export const waitFlag = Flags.boolean({
  description: 'Wait until the operator has done it (use --no-wait to return at once)',
  default: true,
  allowNo: true,
});

export const timeoutFlag = Flags.integer({
  description: 'Seconds to wait before giving up',
  default: 300,
  min: 1,
});

export abstract class LonghornCommand extends Command {
  static override baseFlags = globalFlags;

  /** client-node is loaded here, not at start: --help and usage errors answer without it. */
  protected async client(flags: {
    kubeconfig?: string | undefined;
    context?: string | undefined;
    namespace: string;
  }): Promise<LonghornClient> {
    const [{ LonghornClient }, { loadKubeConfig }] = await Promise.all([
      import('./kube/client.js'),
      import('./kube/kubeconfig.js'),
    ]);
    return new LonghornClient(loadKubeConfig(flags), flags.namespace);
  }

  protected print(text: string): void {
    if (text === '') return;
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** Messages that are not the command's output (progress, "No resources found"). */
  protected note(text: string): void {
    process.stderr.write(`${text}\n`);
  }

  protected now(): number {
    return Date.now();
  }
}
