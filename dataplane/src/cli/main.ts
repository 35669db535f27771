/** Entry point of the `longhorn-local` tool; subcommands arrive with the engine. */
export async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  console.error(`longhorn-local: unknown command ${command ?? '(none)'}`);
  return 2;
}
