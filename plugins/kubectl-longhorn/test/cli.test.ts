/**
 * The built executable without a cluster: --help with examples on every command, bad flags and
 * arguments (exit 2, one line), an API server that does not answer (exit 4), and a setting value
 * refused before anything is sent. Needs `npx tsc -b` first.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../src/commands.js';

const BIN = fileURLToPath(new URL('../bin/kubectl-longhorn', import.meta.url));
const built = existsSync(fileURLToPath(new URL('../dist/main.js', import.meta.url)));
const dir = mkdtempSync(join(tmpdir(), 'lh-plugin-cli-'));
// A kubeconfig whose API server does not listen (port 1 on loopback).
const deadKubeconfig = join(dir, 'dead.kubeconfig');
writeFileSync(
  deadKubeconfig,
  [
    'apiVersion: v1',
    'kind: Config',
    'clusters: [{name: dead, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]',
    'users: [{name: u, user: {token: t}}]',
    'contexts: [{name: dead, context: {cluster: dead, user: u}}, {name: other, context: {cluster: dead, user: u}}]',
    'current-context: dead',
    '',
  ].join('\n'),
);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

// 90 s per run: at load 20 on 2 cores five concurrent node starts took over 30 s each.
function run(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, KUBECONFIG: deadKubeconfig, ...env }, timeout: 90_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe.skipIf(!built).concurrent('kubectl-longhorn without a cluster', () => {
  it('lists the topics in --help', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    for (const t of [
      'volume',
      'snapshot',
      'backup',
      'backup-target',
      'node',
      'setting',
      'doctor',
      'support-bundle',
    ])
      expect(r.stdout).toContain(t);
  });

  it.each(Object.keys(COMMANDS))(
    '%s --help shows usage with kubectl longhorn, the global flags and examples',
    async (id) => {
      const r = await run([...id.split(':'), '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`$ kubectl longhorn ${id.replaceAll(':', ' ')}`);
      expect(r.stdout).toContain('--kubeconfig');
      expect(r.stdout).toContain('-n, --namespace');
      expect(r.stdout).toContain('EXAMPLES');
    },
  );

  it.each([
    [
      ['volume', 'list', '-o', 'xml'],
      'error: Expected --output=xml to be one of: table, wide, json, yaml, name',
    ],
    [['volume', 'list', '--bogus'], 'error: Nonexistent flag: --bogus'],
    [['volume', 'get'], 'error: Missing 1 required arg: name (Volume name)'],
    [['volume', 'create', 'v'], 'error: Missing required flag size'],
    [
      ['volume', 'create', 'v', '--size', 'huge'],
      'error: size "huge" is not a size; write e.g. 10Gi, 512Mi or 1073741824',
    ],
    [['volume', 'lisst'], 'error: unknown command "volume lisst"; see kubectl longhorn --help'],
    [['node', 'scheduling', 'node-1', 'maybe'], 'error: Expected maybe to be one of: on, off'],
    [['volume', 'list', '--context', 'nope'], 'error: context "nope" not found in the kubeconfig'],
    [
      ['volume', 'list', '--kubeconfig', '/nonexistent/config'],
      'error: kubeconfig /nonexistent/config does not exist',
    ],
    [
      ['setting', 'set', 'default-replica-count', '21'],
      'error: setting default-replica-count: 21 is above the maximum 20; use an integer from 1 to 20',
    ],
    [['snapshot', 'create'], 'error: give a VOLUME, or --pvc NAMESPACE/NAME for a VolumeSnapshot'],
    [['snapshot', 'create', '--pvc', 'a/b/c'], 'error: --pvc a/b/c is not NAMESPACE/NAME or NAME'],
    [
      ['snapshot', 'create', '--volume-snapshot', 'vs-1'],
      'error: --volume-snapshot needs the VOLUME or --pvc NAMESPACE/NAME it is of',
    ],
    [
      ['snapshot', 'create', 'vol', '--volume-snapshot', 'Bad_Name'],
      'error: --volume-snapshot Bad_Name is not a valid object name',
    ],
    [
      ['snapshot', 'create', 'vol', '--volume-snapshot', 'vs-1', '--name', 'n'],
      'error: --name names a Longhorn snapshot; a VolumeSnapshot is named by --volume-snapshot',
    ],
    [
      ['snapshot', 'create', 'vol', '--class', 'longhorn-snapshot-vsc'],
      'error: --class is for VolumeSnapshots: add --pvc or --volume-snapshot',
    ],
    [['node', 'evict'], 'error: Missing 1 required arg: node (Node name)'],
    [['volume', 'salvage'], 'error: Missing 1 required arg: name (Volume name)'],
    [['backup', 'create'], 'error: Missing 1 required arg: volume (Volume name)'],
    [['backup', 'create', 'vol', '--label', 'app'], 'error: --label app is not key=value'],
    [['backup', 'create', 'vol', '--snapshot', ''], 'error: --snapshot needs a name'],
    [
      ['backup', 'create', 'vol', '--mode', 'differential'],
      'error: Expected --mode=differential to be one of: full, incremental',
    ],
    [['backup', 'get'], 'error: Missing 1 required arg: name (Backup name)'],
    [
      ['backup', 'list', '-o', 'csv'],
      'error: Expected --output=csv to be one of: table, wide, json, yaml, name',
    ],
    [['backup', 'restore', 'backup-1'], 'error: Missing required flag to'],
    [
      ['backup', 'restore', 'backup-1', '--to', 'v', '--replicas', 'two'],
      'error: Parsing --replicas Expected an integer but received: two',
    ],
    [['backup', 'delete'], 'error: Missing 1 required arg: name (Backup name)'],
    [
      ['backup-target', 'set'],
      'error: Missing 1 required arg: url (Backup target URL: s3://BUCKET@REGION/PATH or nfs://SERVER:/PATH)',
    ],
    [
      ['backup-target', 'set', 'http://minio:9000/backups'],
      'error: backup target URL scheme "http" is not supported; write one of s3://BUCKET@REGION/PATH, nfs://SERVER:/PATH, cifs://SERVER/SHARE, azblob://CONTAINER@ENDPOINT/PATH',
    ],
    [
      ['backup-target', 'set', 's3://backups/longhorn'],
      'error: backup target URL "s3://backups/longhorn" is not a valid s3 URL; write s3://BUCKET@REGION/PATH, e.g. s3://backups@us-east-1/longhorn',
    ],
    [
      ['backup-target', 'set', 'nfs://server:/exports', '--poll-interval', '5 minutes'],
      'error: --poll-interval "5 minutes" is not a duration; write e.g. 5m, 300s or 1h, or 0s to stop polling',
    ],
    [['volume', 'rotate-key'], 'error: Missing 1 required arg: name (Volume name)'],
    [
      ['volume', 'rotate-key', 'vol', '--bandwidth', '4Mi'],
      'error: --bandwidth limits the re-encryption of a data-key rotation: add --data-key (a key-encryption key rotation reads and writes no data)',
    ],
    [
      ['volume', 'rotate-key', 'vol', '--data-key', '--bandwidth', '0'],
      'error: --bandwidth 0 is not a positive number of bytes per second; write e.g. 4194304 or 4Mi, or leave it out for no new limit',
    ],
    [
      ['volume', 'rotate-key', 'vol', '--data-key', '--bandwidth', '-5'],
      'error: --bandwidth -5 is not a positive number of bytes per second; write e.g. 4194304 or 4Mi, or leave it out for no new limit',
    ],
    [
      ['volume', 'rotate-key', 'vol', '--data-key', '--timeout', '0'],
      'error: Parsing --timeout Expected an integer greater than or equal to 1 but received: 0',
    ],
  ])('%j exits 2 with one line', async (args, message) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`${message}\n`);
    expect(r.stdout).toBe('');
  });

  it('says the API server is unreachable (exit 4), also with flags before the command and --context', async () => {
    const r = await run(['--kubeconfig', deadKubeconfig, 'volume', 'list', '--context', 'other']);
    expect(r.code).toBe(4);
    expect(r.stderr).toBe(
      'error: cannot reach the Kubernetes API server at https://127.0.0.1:1 (ECONNREFUSED); check --kubeconfig and --context\n',
    );
  });
});
