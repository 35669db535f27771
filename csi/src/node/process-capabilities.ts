import { readFile } from 'node:fs/promises';

/** Linux capability numbers this plugin asks about (linux/capability.h). */
export const CAP_SYS_RESOURCE = 24;

/** Whether `/proc/<pid>/status` text lists capability `bit` as effective. */
export function hasEffectiveCapability(statusText: string, bit: number): boolean {
  const m = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(statusText);
  if (!m) return false;
  return ((BigInt(`0x${m[1]}`) >> BigInt(bit)) & 1n) === 1n;
}

/** Whether this process holds capability `bit` (ext4's online resize needs CAP_SYS_RESOURCE). */
export async function processHasCapability(bit: number): Promise<boolean> {
  return hasEffectiveCapability(await readFile('/proc/self/status', 'utf8'), bit);
}
