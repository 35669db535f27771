/**
 * Parses a listen address "HOST:PORT" ("[v6]:PORT" too; an empty host means all addresses).
 * Port 0 asks the kernel for a free one.
 */
export function parseHostPort(value: string, what = 'address'): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  if (i < 0) throw new Error(`${what} ${JSON.stringify(value)}: expected HOST:PORT`);
  const host = value.slice(0, i).replace(/^\[(.*)\]$/, '$1') || '0.0.0.0';
  const port = Number(value.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${what} ${JSON.stringify(value)}: port must be 0..65535`);
  }
  return { host, port };
}
