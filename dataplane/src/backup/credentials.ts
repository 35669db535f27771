import { readFile } from 'node:fs/promises';
import { BackupError } from './errors.js';

/**
 * A credentials file: Longhorn's backup-target Secret as KEY=VALUE lines (AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_ENDPOINTS, ...). Blank lines and lines starting with '#' are
 * skipped; a value may be wrapped in single or double quotes.
 */
export function parseCredentials(text: string, file = 'credentials'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const key = eq > 0 ? line.slice(0, eq).trim() : '';
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      throw new BackupError('INVALID_ARGUMENT', `${file}:${i + 1}: expected KEY=VALUE`);
    }
    let value = line.slice(eq + 1).trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.at(-1) === value[0])
      value = value.slice(1, -1);
    out[key] = value;
  }
  return out;
}

export async function readCredentials(file: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new BackupError(
      'INVALID_ARGUMENT',
      `cannot read credentials file ${file}: ${(err as Error).message}`,
    );
  }
  return parseCredentials(text, file);
}

/** The keys the S3 target reads, from the environment, under those of a credentials file. */
export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of [
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'AWS_ENDPOINTS',
    'AWS_REGION',
    'VIRTUAL_HOSTED_STYLE',
  ]) {
    const v = env[k];
    if (v) out[k] = v;
  }
  return out;
}
