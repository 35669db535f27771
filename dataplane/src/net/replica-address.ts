/** Where a replica server listens: TCP or a Unix socket. */
export type ReplicaTarget = { host: string; port: number } | { path: string };

/** The address form `parseReplicaAddress` reads: "host:port" or "unix:/path/to.sock". */
export function targetToString(target: ReplicaTarget): string {
  return 'path' in target ? `unix:${target.path}` : `${target.host}:${target.port}`;
}

/** Parses "host:port" or "unix:/path/to.sock" into a replica server target. */
export function parseReplicaAddress(address: string): ReplicaTarget {
  if (address.startsWith('unix:')) return { path: address.slice('unix:'.length) };
  const i = address.lastIndexOf(':');
  const port = Number(address.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`replica address ${JSON.stringify(address)}: expected HOST:PORT or unix:PATH`);
  }
  return { host: address.slice(0, i), port };
}

/** Parses the `--replica ID=ADDRESS` form used by the engine process. */
export function parseReplicaArg(arg: string): { id: string; address: string } {
  const i = arg.indexOf('=');
  if (i <= 0) throw new Error(`--replica ${JSON.stringify(arg)}: expected ID=HOST:PORT`);
  const address = arg.slice(i + 1);
  parseReplicaAddress(address);
  return { id: arg.slice(0, i), address };
}
