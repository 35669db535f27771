import { execFile } from 'node:child_process';
import { CsiError } from '../errors.js';

export interface CommandResult {
  stdout: string;
  stderr: string;
  code: number;
}

/**
 * Runs a host tool (mount, losetup, mkfs...) without a shell. A non-zero exit is an INTERNAL
 * error naming the command and its stderr, unless `okCodes` lists it.
 */
export function runCommand(
  command: string,
  args: string[],
  options: { okCodes?: number[]; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { timeout: options.timeoutMs ?? 120_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        if (code === 0 || options.okCodes?.includes(code)) {
          resolve({ stdout, stderr, code });
          return;
        }
        const detail = (stderr || err?.message || '').trim();
        reject(new CsiError('INTERNAL', `${command} ${args.join(' ')} failed (exit ${code}): ${detail}`));
      },
    );
  });
}
