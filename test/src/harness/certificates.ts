import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Paths of the PEM files of one cluster's PKI (ECDSA P-256 throughout). */
export interface ClusterPki {
  dir: string;
  caCert: string;
  caKey: string;
  /** kube-apiserver's serving certificate: localhost, 127.0.0.1 and the in-cluster names. */
  servingCert: string;
  servingKey: string;
  /** Client certificate of `admin`, group system:masters. */
  adminCert: string;
  adminKey: string;
  /** Service-account token signing key pair. */
  serviceAccountKey: string;
  serviceAccountPub: string;
}

export interface CertificateSubject {
  commonName: string;
  organizations?: string[];
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim() || (err as Error).message}`);
  }
}

function subjectString(subject: CertificateSubject): string {
  const escapeDn = (v: string) => v.replace(/[/,+=]/g, (c) => `\\${c}`);
  const parts = (subject.organizations ?? []).map((o) => `/O=${escapeDn(o)}`);
  return `${parts.join('')}/CN=${escapeDn(subject.commonName)}`;
}

async function ecKey(path: string): Promise<void> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  await writeFile(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
}

export interface IssueOptions {
  /** DNS names and IP addresses for subjectAltName; IPs are recognised by their shape. */
  altNames?: string[];
  usage: 'server' | 'client' | 'both';
  days?: number;
}

/**
 * Issues a leaf certificate signed by the PKI's CA into `dir/<name>.crt` and `.key`. Used for the
 * API server here and, later, for webhook and extender servers.
 */
export async function issueCertificate(
  pki: Pick<ClusterPki, 'caCert' | 'caKey'>,
  dir: string,
  name: string,
  subject: CertificateSubject,
  options: IssueOptions,
): Promise<{ cert: string; key: string }> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  await ecKey(key);
  const eku = { server: 'serverAuth', client: 'clientAuth', both: 'serverAuth,clientAuth' }[options.usage];
  const lines = [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage=${eku}`,
  ];
  const alt = (options.altNames ?? []).map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`));
  if (alt.length > 0) lines.push(`subjectAltName=${alt.join(',')}`);
  await writeFile(ext, `${lines.join('\n')}\n`);
  await openssl(['req', '-new', '-key', key, '-subj', subjectString(subject), '-out', csr]);
  await openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    pki.caCert,
    '-CAkey',
    pki.caKey,
    // A random serial, not -CAcreateserial: certificates are issued concurrently.
    '-set_serial',
    `0x7${randomBytes(15).toString('hex')}`,
    '-days',
    String(options.days ?? 365),
    '-sha256',
    '-extfile',
    ext,
    '-out',
    cert,
  ]);
  return { cert, key };
}

/** Creates the CA, the API server's serving cert, the admin client cert and the SA key pair. */
export async function createClusterPki(dir: string): Promise<ClusterPki> {
  await mkdir(dir, { recursive: true });
  const caKey = join(dir, 'ca.key');
  const caCert = join(dir, 'ca.crt');
  await ecKey(caKey);
  await openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    caKey,
    '-subj',
    '/CN=longhorn-ts-ca',
    '-days',
    '3650',
    '-sha256',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
    '-out',
    caCert,
  ]);
  const ca = { caCert, caKey };
  const [serving, admin] = await Promise.all([
    issueCertificate(
      ca,
      dir,
      'kube-apiserver',
      { commonName: 'kube-apiserver' },
      {
        usage: 'server',
        altNames: [
          'localhost',
          '127.0.0.1',
          'kubernetes',
          'kubernetes.default',
          'kubernetes.default.svc',
          'kubernetes.default.svc.cluster.local',
          '10.0.0.1',
        ],
      },
    ),
    issueCertificate(
      ca,
      dir,
      'admin',
      { commonName: 'admin', organizations: ['system:masters'] },
      { usage: 'client' },
    ),
  ]);
  const serviceAccountKey = join(dir, 'service-account.key');
  const serviceAccountPub = join(dir, 'service-account.pub');
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  await writeFile(serviceAccountKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  await writeFile(serviceAccountPub, publicKey.export({ type: 'spki', format: 'pem' }));
  return {
    dir,
    caCert,
    caKey,
    servingCert: serving.cert,
    servingKey: serving.key,
    adminCert: admin.cert,
    adminKey: admin.key,
    serviceAccountKey,
    serviceAccountPub,
  };
}
