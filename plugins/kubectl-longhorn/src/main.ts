/**
 * The entry of `kubectl-longhorn`: oclif finds and runs the command; whatever it throws becomes
 * an exit code and one line on stderr here, and only here.
 */
import { flush, run } from '@oclif/core';
import { normalizeArgv } from './argv.js';
import { exitFor } from './errors.js';

export async function main(argv: readonly string[]): Promise<number> {
  try {
    await run(normalizeArgv(argv), import.meta.url);
    await flush();
    return 0;
  } catch (err) {
    const exit = exitFor(err);
    if (exit.code !== 0) process.stderr.write(`error: ${exit.message}\n`);
    return exit.code;
  }
}
