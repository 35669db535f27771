import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * How to start one of the data plane's process entries (e.g. 'protocol/replica-server-main')
 * as a child: from dist/ with plain node, or from src/ through tsx when the caller itself runs
 * from TypeScript source (tests).
 */
export function entryCommand(entry: string): { command: string; args: string[] } {
  const here = fileURLToPath(import.meta.url);
  // Benchmarks run from source but measure the compiled processes (no tsx loader in them).
  const compiled = fileURLToPath(new URL(`../../dist/${entry}.js`, import.meta.url));
  const fromSource =
    here.endsWith('.ts') && !(process.env.LONGHORN_PREFER_DIST === '1' && existsSync(compiled));
  if (here.endsWith('.ts') && !fromSource) return { command: process.execPath, args: [compiled] };
  const file = fileURLToPath(new URL(`../${entry}.${fromSource ? 'ts' : 'js'}`, import.meta.url));
  if (!existsSync(file)) throw new Error(`process entry ${entry} not found at ${file}`);
  return { command: process.execPath, args: fromSource ? ['--import', 'tsx', file] : [file] };
}

/**
 * Makes a child exit when the process that started it dies, even by SIGKILL: the parent holds
 * the write end of our stdin, which closes with it. Enabled by LONGHORN_EXIT_WITH_PARENT=1.
 */
export function exitWithParent(onParentGone: () => void): void {
  if (process.env.LONGHORN_EXIT_WITH_PARENT !== '1') return;
  process.stdin.on('end', onParentGone);
  process.stdin.on('error', onParentGone);
  process.stdin.resume();
}

/** Prints the one JSON line a supervisor waits for before it calls a process ready. */
export function announceReady(info: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(info)}\n`);
}
