/**
 * The plugin's failures and their exit codes. Commands throw `PluginError`s (or let client-node,
 * oclif and Node errors through); `exitFor` in this file is the one place any of them becomes an
 * exit code and a one-line message.
 */

export const ERROR_CODES = [
  'USAGE',
  'NOT_FOUND',
  'UNREACHABLE',
  'REFUSED',
  'CONFLICT',
  'TIMEOUT',
  'FAILED',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Exit codes: 1 a failed or refused operation, 2 bad usage, 3 a missing object, 4 no API server. */
export const EXIT_CODES = {
  FAILED: 1,
  REFUSED: 1,
  CONFLICT: 1,
  USAGE: 2,
  NOT_FOUND: 3,
  UNREACHABLE: 4,
  TIMEOUT: 5,
} as const satisfies Record<ErrorCode, number>;

export class PluginError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PluginError';
  }
}

export function usageError(message: string): PluginError {
  return new PluginError('USAGE', message);
}

export function notFound(kind: string, name: string, namespace: string): PluginError {
  return new PluginError('NOT_FOUND', `${kind} "${name}" not found in namespace ${namespace}`);
}

export interface Exit {
  code: number;
  message: string;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EAI_AGAIN',
]);

function field(err: unknown, name: string): unknown {
  return typeof err === 'object' && err !== null ? (err as Record<string, unknown>)[name] : undefined;
}

/** The API server's own sentence from a client-node ApiException body (JSON Status), if any. */
function statusMessage(body: unknown): string | undefined {
  if (typeof body !== 'string') {
    const m = field(body, 'message');
    return typeof m === 'string' ? m : undefined;
  }
  try {
    const m = (JSON.parse(body) as { message?: unknown }).message;
    return typeof m === 'string' ? m : undefined;
  } catch {
    return body.trim() === '' ? undefined : body.trim();
  }
}

function networkCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 5; e = field(e, 'cause'), depth++) {
    const code = field(e, 'code');
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    const errno = field(e, 'errno');
    if (typeof errno === 'string' && NETWORK_CODES.has(errno)) return errno;
  }
  return undefined;
}

function firstLine(text: string): string {
  return text.split('\n').find((l) => l.trim() !== '') ?? text;
}

/** oclif's parse errors span lines ("Missing 1 required arg:\nname  Volume name\nSee more help..."). */
function parseMessage(msg: string): string {
  const lines = msg
    .split('\n')
    .map((l) => l.trim())
    .filter(
      (l) =>
        l !== '' &&
        !l.startsWith('See more help') &&
        !/^The following errors? occurred/.test(l) &&
        // oclif's advice on flags that take several values: noise in a one-line message.
        !/^Note: --\S+ allows? multiple values/.test(l) &&
        !l.startsWith('Alternatively, you can use "--"'),
    );
  if (lines.length <= 1) return lines[0] ?? msg;
  return `${lines[0]} ${lines
    .slice(1)
    .map((l) => l.replace(/\s{2,}/, ' ('))
    .map((l) => (l.includes(' (') ? `${l})` : l))
    .join(', ')}`;
}

/** Any error thrown while running a command, as an exit code and one line for stderr. */
export function exitFor(err: unknown): Exit {
  if (err instanceof PluginError) return { code: EXIT_CODES[err.code], message: firstLine(err.message) };
  const net = networkCode(err);
  if (net !== undefined) {
    const msg = err instanceof Error ? err.message : String(err);
    const url = /(https?:\/\/[^\s,]+)/.exec(msg)?.[1];
    return {
      code: EXIT_CODES.UNREACHABLE,
      message: `cannot reach the Kubernetes API server${url ? ` at ${url.replace(/\/(api|apis)\/.*$/, '')}` : ''} (${net}); check --kubeconfig and --context`,
    };
  }
  const status = field(err, 'code');
  if (typeof status === 'number' && status >= 400 && status < 600) {
    const text = statusMessage(field(err, 'body')) ?? `HTTP ${status}`;
    if (status === 404) return { code: EXIT_CODES.NOT_FOUND, message: text };
    if (status === 409) return { code: EXIT_CODES.CONFLICT, message: text };
    if (status === 401 || status === 403)
      return { code: EXIT_CODES.REFUSED, message: `not allowed: ${text}` };
    return { code: EXIT_CODES.FAILED, message: firstLine(text) };
  }
  // oclif: parse errors (unknown flag, missing argument) carry oclif.exit 2; `this.exit(n)` carries n.
  const oclif = field(err, 'oclif') as { exit?: unknown } | undefined;
  if (oclif && typeof oclif.exit === 'number') {
    const msg = (err instanceof Error ? err.message : String(err)).replace(/^Error:\s*/, '');
    const unknown = /^command (\S+) not found/.exec(msg);
    const message = unknown
      ? `unknown command "${(unknown[1] ?? '').replaceAll(':', ' ')}"; see kubectl longhorn --help`
      : parseMessage(msg);
    return { code: oclif.exit, message };
  }
  const msg = err instanceof Error ? err.message : String(err);
  return { code: EXIT_CODES.FAILED, message: firstLine(msg) };
}
