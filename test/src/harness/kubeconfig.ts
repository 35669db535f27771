import { readFile, writeFile } from 'node:fs/promises';

export interface KubeconfigOptions {
  server: string;
  caCert: string;
  clientCert: string;
  clientKey: string;
  clusterName?: string;
  userName?: string;
}

/**
 * Writes a kubeconfig with the certificates embedded, so the file alone is enough to reach the
 * cluster (JSON is valid YAML; kubectl and client libraries read it as is).
 */
export async function writeKubeconfig(path: string, options: KubeconfigOptions): Promise<string> {
  const [ca, cert, key] = await Promise.all(
    [options.caCert, options.clientCert, options.clientKey].map((p) => readFile(p)),
  );
  const cluster = options.clusterName ?? 'longhorn-local';
  const user = options.userName ?? 'admin';
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: cluster,
        cluster: { server: options.server, 'certificate-authority-data': ca!.toString('base64') },
      },
    ],
    users: [
      {
        name: user,
        user: {
          'client-certificate-data': cert!.toString('base64'),
          'client-key-data': key!.toString('base64'),
        },
      },
    ],
    contexts: [{ name: cluster, context: { cluster, user } }],
    'current-context': cluster,
    preferences: {},
  };
  await writeFile(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return path;
}
