/**
 * Shell completion the way kubectl completes plugins (kubectl 1.26+): for `kubectl longhorn
 * <TAB>` kubectl runs `kubectl_complete-longhorn <words...> <partial>` and reads Cobra's format,
 * one candidate per line and then `:<directive>`. Pure: the command table in, lines out.
 */

/** What completion needs of a command: its flags' names and short letters. */
export interface CompletableFlag {
  char?: string;
  /** oclif's flag type: 'boolean' flags take no value. */
  type?: string;
  options?: readonly string[];
}

export interface CompletableCommand {
  flags?: Record<string, CompletableFlag | undefined>;
  baseFlags?: Record<string, CompletableFlag | undefined>;
}

/** Cobra's ShellCompDirectiveNoFileComp: never fall back to file names. */
export const NO_FILE_COMPLETION = 4;

/**
 * Candidates for the last word of `words` (the word being typed, '' for a fresh one), given the
 * words before it. Subcommands complete from the table's ids (`volume:replica:remove`), flags
 * from the command the words name; a flag's value completes from its options.
 */
export function complete(words: readonly string[], commands: Record<string, CompletableCommand>): string[] {
  const partial = words.at(-1) ?? '';
  const before = words.slice(0, -1);
  const path: string[] = [];
  let pendingFlag: string | undefined;
  for (const w of before) {
    if (pendingFlag !== undefined) {
      pendingFlag = undefined;
      continue;
    }
    if (w.startsWith('-')) {
      if (!w.includes('=') && takesValue(w, commands[path.join(':')])) pendingFlag = w;
      continue;
    }
    // A word that continues no command id is an argument (`backup create VOL --mode`).
    if (isCommandPrefix([...path, w], commands)) path.push(w);
  }
  const command = commands[path.join(':')];
  const lines: string[] = [];
  if (pendingFlag !== undefined) {
    lines.push(...(flagOptions(pendingFlag, command) ?? []).filter((o) => o.startsWith(partial)));
  } else if (partial.startsWith('-')) {
    lines.push(...flagNames(command).filter((f) => f.startsWith(partial)));
  } else {
    const next = new Set<string>();
    for (const id of Object.keys(commands)) {
      const parts = id.split(':');
      if (parts.length <= path.length || !path.every((p, i) => parts[i] === p)) continue;
      const word = parts[path.length]!;
      if (word.startsWith(partial)) next.add(word);
    }
    lines.push(...[...next].sort());
  }
  return [...lines, `:${NO_FILE_COMPLETION}`];
}

function isCommandPrefix(words: readonly string[], commands: Record<string, CompletableCommand>): boolean {
  const prefix = words.join(':');
  return Object.keys(commands).some((id) => id === prefix || id.startsWith(`${prefix}:`));
}

const GLOBAL_FLAGS: Record<string, CompletableFlag> = {
  kubeconfig: {},
  context: {},
  namespace: { char: 'n' },
};

function allFlags(command: CompletableCommand | undefined): Record<string, CompletableFlag> {
  const out: Record<string, CompletableFlag> = { ...GLOBAL_FLAGS };
  for (const [name, f] of Object.entries({ ...command?.baseFlags, ...command?.flags })) if (f) out[name] = f;
  return out;
}

function flagNames(command: CompletableCommand | undefined): string[] {
  const names: string[] = [];
  for (const [name, f] of Object.entries(allFlags(command))) {
    names.push(`--${name}`);
    if (f.char) names.push(`-${f.char}`);
  }
  return names.sort();
}

function findFlag(word: string, command: CompletableCommand | undefined): CompletableFlag | undefined {
  const flags = allFlags(command);
  if (word.startsWith('--')) return flags[word.slice(2)];
  return Object.values(flags).find((f) => f.char === word.slice(1));
}

function flagOptions(word: string, command: CompletableCommand | undefined): readonly string[] | undefined {
  return findFlag(word, command)?.options;
}

/** Boolean flags take no value; the others (strings, options) take the next word. */
function takesValue(word: string, command: CompletableCommand | undefined): boolean {
  const f = findFlag(word, command);
  return f !== undefined && f.type !== 'boolean';
}
