import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';

/** Secrets in memory, with resourceVersion checks as the API server makes them. */
export function fakeCore(passphrases: Record<string, string> = { crypto: 'a unit-test passphrase' }): {
  core: CoreV1Api;
  secrets: Map<string, V1Secret>;
} {
  const secrets = new Map<string, V1Secret>();
  let rv = 1;
  const key = (namespace: string, name: string) => `${namespace}/${name}`;
  const notFound = () => Object.assign(new Error('not found'), { code: 404 });
  const core = {
    async readPersistentVolume() {
      throw notFound();
    },
    async readNamespacedSecret({ name, namespace }: { name: string; namespace: string }) {
      const s = secrets.get(key(namespace, name));
      if (!s) throw notFound();
      return structuredClone(s);
    },
    async createNamespacedSecret({ namespace, body }: { namespace: string; body: V1Secret }) {
      const k = key(namespace, body.metadata!.name!);
      if (secrets.has(k)) throw Object.assign(new Error('exists'), { code: 409 });
      secrets.set(k, { ...body, metadata: { ...body.metadata, resourceVersion: String(rv++) } });
      return body;
    },
    async replaceNamespacedSecret({
      name,
      namespace,
      body,
    }: {
      name: string;
      namespace: string;
      body: V1Secret;
    }) {
      const old = secrets.get(key(namespace, name));
      if (old?.metadata?.resourceVersion !== body.metadata?.resourceVersion)
        throw Object.assign(new Error('conflict'), { code: 409 });
      secrets.set(key(namespace, name), {
        ...body,
        metadata: { ...body.metadata, resourceVersion: String(rv++) },
      });
      return body;
    },
  } as unknown as CoreV1Api;
  // One crypto Secret per entry, in namespace ns: NAME -> passphrase.
  for (const [name, passphrase] of Object.entries(passphrases)) {
    const data = { CRYPTO_KEY_VALUE: passphrase, CRYPTO_KEY_PROVIDER: 'secret', CRYPTO_PBKDF: 'pbkdf2' };
    secrets.set(key('ns', name), {
      data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    });
  }
  return { core, secrets };
}
