/**
 * `--watch`: print, then watch the kinds the output depends on and print again whenever the
 * rendered text changes (redrawn in place on a terminal, appended otherwise). A watch the server
 * ends is restarted; Ctrl-C or SIGTERM ends the loop with exit 0.
 */
import type { LonghornClient, Plural } from '../kube/client.js';

export async function watchAndRender(
  client: LonghornClient,
  plurals: readonly Plural[],
  render: () => Promise<string>,
  write: (text: string) => void = (t) => process.stdout.write(t),
  isTTY = !!process.stdout.isTTY,
): Promise<void> {
  let last = '';
  let first = true;
  const show = async () => {
    const text = await render();
    if (text === last) return;
    last = text;
    if (isTTY) write(`\x1b[H\x1b[2J${text}\n`);
    else write(`${first ? '' : '\n'}${text}\n`);
    first = false;
  };
  await show();
  let pending: NodeJS.Timeout | undefined;
  let failure: unknown;
  const stops: (() => void)[] = [];
  await new Promise<void>((resolve, reject) => {
    let stopped = false;
    const finish = () => {
      if (stopped) return;
      stopped = true;
      for (const s of stops) s();
      if (pending) clearTimeout(pending);
      process.off('SIGINT', finish);
      process.off('SIGTERM', finish);
      if (failure !== undefined) reject(failure);
      else resolve();
    };
    process.on('SIGINT', finish);
    process.on('SIGTERM', finish);
    const schedule = () => {
      if (pending || stopped) return;
      pending = setTimeout(() => {
        pending = undefined;
        show().catch((err) => {
          failure = err;
          finish();
        });
      }, 150);
    };
    const start = (plural: Plural) => {
      client
        .watch(
          plural,
          () => schedule(),
          () => {
            if (!stopped) setTimeout(() => start(plural), 1000); // server closed the watch: start again
          },
        )
        .then((stop) => stops.push(stop))
        .catch((err) => {
          failure = err;
          finish();
        });
    };
    for (const p of plurals) start(p);
  });
}
