// The chart's pre-delete check, run by `helm uninstall` in a Job (controller image, plain Node, no
// dependencies): while longhorn.io Volumes exist, uninstalling is refused unless the Setting
// deleting-confirmation-flag is "true" (Longhorn's flag), so volumes are not orphaned by accident.
// In a pod it reads the ServiceAccount's token and CA; LONGHORN_TS_API, _TOKEN_FILE and _CA_FILE
// point it elsewhere (the tests run it on the host against a local API server).
import { readFileSync, realpathSync } from 'node:fs';
import { request } from 'node:https';
import { fileURLToPath } from 'node:url';

export const FLAG_SETTING = 'deleting-confirmation-flag';

/**
 * The verdict: `volumes` are the names of the Volumes, `flag` the Setting's value (undefined when
 * the Setting does not exist).
 */
export function uninstallVerdict(volumes, flag) {
  if (volumes.length === 0) return { allowed: true, message: 'no longhorn.io Volumes: uninstalling' };
  if (flag === 'true') {
    return {
      allowed: true,
      message: `${volumes.length} Volume(s) left and ${FLAG_SETTING} is true: uninstalling; the CRDs and Volume objects stay`,
    };
  }
  const shown = volumes.slice(0, 10).join(', ') + (volumes.length > 10 ? ', ...' : '');
  return {
    allowed: false,
    message:
      `refusing to uninstall: ${volumes.length} Volume(s) exist (${shown}); delete them, or confirm with ` +
      `kubectl -n NAMESPACE patch settings.longhorn.io ${FLAG_SETTING} --type merge -p '{"value":"true"}' and uninstall again`,
  };
}

function get(api, path, token, ca) {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, api),
      { headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, ca, timeout: 15_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer in 15 s`)));
    req.on('error', reject);
    req.end();
  });
}

async function main() {
  const sa = '/var/run/secrets/kubernetes.io/serviceaccount';
  const namespace = process.env.NAMESPACE || readFileSync(`${sa}/namespace`, 'utf8').trim();
  const api =
    process.env.LONGHORN_TS_API ||
    `https://${process.env.KUBERNETES_SERVICE_HOST}:${process.env.KUBERNETES_SERVICE_PORT}`;
  const token = readFileSync(process.env.LONGHORN_TS_TOKEN_FILE || `${sa}/token`, 'utf8').trim();
  const ca = readFileSync(process.env.LONGHORN_TS_CA_FILE || `${sa}/ca.crt`);
  const base = `/apis/longhorn.io/v1beta2/namespaces/${namespace}`;

  const list = await get(api, `${base}/volumes`, token, ca);
  if (list.status === 404) return uninstallVerdict([], undefined); // no CRDs: nothing to protect
  if (list.status !== 200)
    throw new Error(`listing Volumes in ${namespace}: HTTP ${list.status} ${list.body}`);
  const volumes = JSON.parse(list.body).items.map((v) => v.metadata.name);
  const setting = await get(api, `${base}/settings/${FLAG_SETTING}`, token, ca);
  if (setting.status !== 200 && setting.status !== 404) {
    throw new Error(`reading Setting ${FLAG_SETTING}: HTTP ${setting.status} ${setting.body}`);
  }
  return uninstallVerdict(volumes, setting.status === 200 ? JSON.parse(setting.body).value : undefined);
}

// Run as a program: compared through realpath, since in the Job the file is a ConfigMap key,
// /check/uninstall-check.mjs -> ..data/uninstall-check.mjs, and Node resolves the symlinks of the
// main module's URL (but not of argv[1]). Compared as given, nothing ran and the Job exited 0,
// letting helm uninstall go ahead with a volume attached (seen on the real node).
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (verdict) => {
      process.stdout.write(`${verdict.message}\n`);
      process.exitCode = verdict.allowed ? 0 : 1;
    },
    (err) => {
      process.stderr.write(`uninstall check failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 2;
    },
  );
}
