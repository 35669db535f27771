/**
 * kubectl lets global flags come first (`kubectl -n x get ...`); oclif wants the command first.
 * `normalizeArgv` moves leading global flags (and their values) behind the command words, so
 * `kubectl longhorn --kubeconfig k volume list` works as `... volume list --kubeconfig k`.
 */

/** Global flags that take a value (both spellings), as kubectl has them. */
const VALUE_FLAGS = new Set(['--kubeconfig', '--context', '--namespace', '-n', '--output', '-o']);

export function normalizeArgv(argv: readonly string[]): string[] {
  const leading: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const a = argv[i] ?? '';
    if (!a.startsWith('-') || a === '--' || a === '--help' || a === '-h' || a === '--version') break;
    if (VALUE_FLAGS.has(a)) {
      if (i + 1 >= argv.length) break; // let the parser report the missing value
      leading.push(a, argv[i + 1] ?? '');
      i += 2;
    } else if (/^(--kubeconfig|--context|--namespace|--output)=/.test(a) || /^-[no]\S/.test(a)) {
      leading.push(a);
      i += 1;
    } else {
      break;
    }
  }
  if (leading.length === 0) return [...argv];
  const rest = argv.slice(i);
  // Command words: the leading non-flag arguments after the global flags.
  let j = 0;
  while (j < rest.length && !(rest[j] ?? '').startsWith('-')) j++;
  return [...rest.slice(0, j), ...leading, ...rest.slice(j)];
}
