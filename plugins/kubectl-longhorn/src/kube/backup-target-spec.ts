/**
 * `backup-target set` input checked before anything is sent (pure): the URL in one of the forms
 * Longhorn's backupstore drivers take, the poll interval as a Go duration (stored the way Go
 * prints a metav1.Duration, `5m0s`), and the keys an S3 target's credential Secret must hold.
 */
import { type BackupTarget, LONGHORN_API_VERSION } from '@longhorn-ts/api';

interface UrlForm {
  pattern: RegExp;
  form: string;
  example: string;
}

/** The URL forms of Longhorn's backupstore drivers; s3 and nfs first, the ones most use. */
const URL_FORMS: Record<string, UrlForm> = {
  s3: {
    pattern: /^s3:\/\/[^@/]+@[^/]+(\/.*)?$/,
    form: 's3://BUCKET@REGION/PATH',
    example: 's3://backups@us-east-1/longhorn',
  },
  nfs: {
    pattern: /^nfs:\/\/(\[[0-9a-fA-F:.]+\]|[^/:[\]]+):\/[^?]*(\?.*)?$/,
    form: 'nfs://SERVER:/PATH',
    example: 'nfs://nfs.example.com:/exports/backups',
  },
  cifs: {
    pattern: /^cifs:\/\/[^/]+\/[^/]+.*$/,
    form: 'cifs://SERVER/SHARE',
    example: 'cifs://fileserver/backups',
  },
  azblob: {
    pattern: /^azblob:\/\/[^@/]+@[^/]*(\/.*)?$/,
    form: 'azblob://CONTAINER@ENDPOINT/PATH',
    example: 'azblob://backups@core.windows.net/',
  },
};

/** What is wrong with a backup target URL, as a sentence saying what to write; undefined: fine. */
export function backupTargetUrlProblem(url: string): string | undefined {
  const forms = Object.entries(URL_FORMS)
    .map(([, f]) => f.form)
    .join(', ');
  if (url.trim() === '') return `the backup target URL is empty; write one of ${forms}`;
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(url)?.[1];
  if (scheme === undefined) return `backup target URL "${url}" is not a URL; write one of ${forms}`;
  const form = URL_FORMS[scheme];
  if (form === undefined) {
    return `backup target URL scheme "${scheme}" is not supported; write one of ${forms}`;
  }
  if (!form.pattern.test(url)) {
    return `backup target URL "${url}" is not a valid ${scheme} URL; write ${form.form}, e.g. ${form.example}`;
  }
  const path = url
    .slice(scheme.length + 3)
    .replace(/^[^/]*/, '')
    .replace(/\?.*$/, '');
  // The backupstore cannot use these in a path (CIFS hides a share with "$", so it may keep it).
  const found = (scheme === 'cifs' ? /,/ : /[$,]/).exec(path)?.[0];
  if (found !== undefined) {
    return `backup target URL "${url}": its path holds "${found}", which the backup store cannot use`;
  }
  return undefined;
}

export function backupTargetScheme(url: string): string {
  return /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(url)?.[1] ?? '';
}

const UNIT_SECONDS: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, µs: 1e-6, ns: 1e-9 };

/** A Go duration (`5m`, `300s`, `1h30m`, `0s`, `0`) in seconds; undefined when it is not one. */
export function parseGoDuration(text: string): number | undefined {
  if (text === '0') return 0;
  if (!/^(\d+(\.\d+)?(h|m|s|ms|us|µs|ns))+$/.test(text)) return undefined;
  let seconds = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g)) {
    seconds += Number(m[1]) * (UNIT_SECONDS[m[2] ?? ''] ?? 0);
  }
  return seconds;
}

/** Whole seconds as Go prints a Duration: `0s`, `45s`, `5m0s`, `1h30m0s`. */
export function formatGoDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s === 0) return '0s';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (h > 0) return `${h}h${m}m${rest}s`;
  if (m > 0) return `${m}m${rest}s`;
  return `${rest}s`;
}

/** `--poll-interval` as stored: Go's form of a whole number of seconds. */
export function pollIntervalValue(text: string): string | { error: string } {
  const seconds = parseGoDuration(text.trim());
  if (seconds === undefined) {
    return {
      error: `--poll-interval "${text}" is not a duration; write e.g. 5m, 300s or 1h, or 0s to stop polling`,
    };
  }
  if (!Number.isInteger(seconds)) {
    return { error: `--poll-interval "${text}" is not a whole number of seconds` };
  }
  return formatGoDuration(seconds);
}

/**
 * Which of the keys an S3 target needs its credential Secret lacks (an IAM role in
 * AWS_IAM_ROLE_ARN stands in for the keys); empty when nothing is missing or not S3.
 */
export function missingCredentialKeys(url: string, keys: readonly string[]): string[] {
  if (backupTargetScheme(url) !== 's3' || keys.includes('AWS_IAM_ROLE_ARN')) return [];
  return ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'].filter((k) => !keys.includes(k));
}

export interface BackupTargetInput {
  url: string;
  credentialSecret?: string | undefined;
  pollInterval?: string | undefined;
  /** Longhorn's spec.syncRequestedAt: the operator syncs again even when nothing else changed. */
  syncRequestedAt?: string | undefined;
}

/** A new BackupTarget CR (Longhorn's default poll interval is 5 minutes). */
export function backupTargetObject(name: string, namespace: string, input: BackupTargetInput): BackupTarget {
  return {
    apiVersion: LONGHORN_API_VERSION,
    kind: 'BackupTarget',
    metadata: { name, namespace },
    spec: {
      backupTargetURL: input.url,
      credentialSecret: input.credentialSecret ?? '',
      pollInterval: input.pollInterval ?? '5m0s',
      ...(input.syncRequestedAt !== undefined && { syncRequestedAt: input.syncRequestedAt }),
    },
  };
}

/** The merge patch for an existing target: the URL always, the others only when given. */
export function backupTargetPatch(input: BackupTargetInput): { spec: Record<string, string> } {
  return {
    spec: {
      backupTargetURL: input.url,
      ...(input.credentialSecret !== undefined && { credentialSecret: input.credentialSecret }),
      ...(input.pollInterval !== undefined && { pollInterval: input.pollInterval }),
      ...(input.syncRequestedAt !== undefined && { syncRequestedAt: input.syncRequestedAt }),
    },
  };
}
