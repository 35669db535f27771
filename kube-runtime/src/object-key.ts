/** Work-queue keys: `namespace/name`, or `name` for cluster-scoped objects (client-go's format). */

export interface ObjectMetaLike {
  metadata?: { name?: string; namespace?: string };
}

export function objectKey(obj: ObjectMetaLike): string {
  const name = obj.metadata?.name ?? '';
  const ns = obj.metadata?.namespace ?? '';
  return ns === '' ? name : `${ns}/${name}`;
}

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
