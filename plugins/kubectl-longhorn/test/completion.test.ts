import { execFile } from 'node:child_process';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../src/commands.js';
import { type CompletableCommand, complete } from '../src/completion.js';

const table = COMMANDS as unknown as Record<string, CompletableCommand>;
const run = promisify(execFile);

describe('completion (kubectl plugin protocol)', () => {
  it.each<[string, string[], string[]]>([
    [
      'topics',
      [''],
      ['backup', 'backup-target', 'doctor', 'node', 'setting', 'snapshot', 'support-bundle', 'volume'],
    ],
    ['the backup topics', ['b'], ['backup', 'backup-target']],
    ['backup subcommands', ['backup', ''], ['create', 'delete', 'get', 'list', 'restore']],
    ['backup-target subcommands', ['backup-target', ''], ['get', 'set']],
    ['backup mode values', ['backup', 'create', 'vol', '--mode', ''], ['full', 'incremental']],
    ['a prefix', ['s'], ['setting', 'snapshot', 'support-bundle']],
    [
      'subcommands',
      ['volume', ''],
      ['attach', 'create', 'delete', 'detach', 'expand', 'get', 'list', 'replica', 'rotate-key', 'salvage'],
    ],
    ['rotate-key flags', ['volume', 'rotate-key', 'vol', '--d'], ['--data-key']],
    ['nested', ['volume', 'replica', ''], ['remove']],
    ['past a global flag and its value', ['-n', 'longhorn-system', 'snapshot', 'l'], ['list']],
    ['flags of the command', ['volume', 'list', '--w'], ['--watch']],
    ['an option flag value', ['volume', 'get', '-o', 'y'], ['yaml']],
    ['nothing after a leaf command', ['doctor', 'x'], []],
  ])('%s', (_name, words, want) => {
    const lines = complete(words, table);
    expect(lines.at(-1)).toBe(':4');
    expect(lines.slice(0, -1)).toEqual(want);
  });

  const kubectl = join(process.env.LONGHORN_TS_CACHE ?? join(homedir(), '.cache/longhorn-ts'), 'bin/kubectl');
  const bin = fileURLToPath(new URL('../bin', import.meta.url));
  it('the real kubectl completes `kubectl longhorn volume g` through kubectl_complete-longhorn', async () => {
    const { stdout } = await run(kubectl, ['__complete', 'longhorn', 'volume', 'g'], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` },
    });
    expect(stdout.split('\n').filter(Boolean)).toEqual(['get', ':4']);
  });
});
