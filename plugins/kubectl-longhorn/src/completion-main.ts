/** The entry of `kubectl_complete-longhorn`, which kubectl runs to complete `kubectl longhorn ...`. */
import { COMMANDS } from './commands.js';
import { type CompletableCommand, complete } from './completion.js';

export function completionMain(argv: readonly string[]): number {
  const words = argv.length === 0 ? [''] : argv;
  process.stdout.write(
    `${complete(words, COMMANDS as unknown as Record<string, CompletableCommand>).join('\n')}\n`,
  );
  return 0;
}
