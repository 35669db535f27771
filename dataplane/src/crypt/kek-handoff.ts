/**
 * Handing a KEK to an engine process: a 0600 file in a 0700 directory, written just before the
 * engine starts and removed as soon as it has read it (an engine unwraps its data key before it
 * does anything else, so a running or failed engine is done with the file). The engine takes
 * `--kek-file PATH`; a KEK never travels on a command line, in an environment or in a resource.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Writes `kek` to a new file under `dir` (created 0700) named for `owner`; returns its path. */
export async function writeKekFile(dir: string, owner: string, kek: Buffer): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const path = join(dir, `${owner.replace(/[^A-Za-z0-9._-]/g, '_')}.${randomBytes(6).toString('hex')}.kek`);
  await writeFile(path, kek, { mode: 0o600, flag: 'wx' });
  return path;
}

/** Removes a handed-over KEK file (gone already is fine). */
export async function removeKekFile(path: string): Promise<void> {
  await rm(path, { force: true });
}

/**
 * Removes every hand-over file left in `dir` (a process that died between writing one and
 * removing it); names are unique per start, so a file written meanwhile is never listed here.
 * Returns how many were removed.
 */
export async function removeStaleKekFiles(dir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  const stale = names.filter((n) => n.endsWith('.kek'));
  await Promise.all(stale.map((n) => rm(join(dir, n), { force: true })));
  return stale.length;
}
