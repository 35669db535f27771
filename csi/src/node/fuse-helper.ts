import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Where lh-nbdfuse (csi/native, built by scripts/setup.sh) is: `LH_NBDFUSE` when set, else the
 * binary cache (`$LONGHORN_TS_CACHE/bin`, default ~/.cache/longhorn-ts/bin) when it is there,
 * else `lh-nbdfuse` on PATH (a node image installs it there).
 */
export function fuseHelperPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LH_NBDFUSE) return env.LH_NBDFUSE;
  const cached = join(env.LONGHORN_TS_CACHE || join(homedir(), '.cache', 'longhorn-ts'), 'bin', 'lh-nbdfuse');
  try {
    accessSync(cached, constants.X_OK);
    return cached;
  } catch {
    return 'lh-nbdfuse';
  }
}
