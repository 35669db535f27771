/** CPU time of processes, from /proc, for the benchmarks' "CPU per I/O" figures. */
import { readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICK_US = 1e6 / 100; // USER_HZ, 100 on Linux

/** A process's parent and its CPU time so far (µs, user + system), or null once it exited. */
function procStat(pid: number | string): { ppid: number; us: number } | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Fields after the command (which may hold spaces): state ppid ... utime(14) stime(15).
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(f[1]), us: (Number(f[11]) + Number(f[12])) * CLOCK_TICK_US };
}

/** CPU time (µs) the processes have used so far; exited ones count 0. */
export function cpuUs(pids: number[]): number {
  let total = 0;
  for (const pid of pids) total += procStat(pid)?.us ?? 0;
  return total;
}

/** CPU time (µs) of `root` and every process below it so far (exited ones are not counted). */
export function treeCpuUs(root: number): number {
  const stats = new Map<number, { ppid: number; us: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = procStat(name);
    if (s) stats.set(Number(name), s);
  }
  let total = 0;
  for (const [pid, s] of stats) {
    for (let p = pid; p > 1; p = stats.get(p)?.ppid ?? 0) {
      if (p === root) {
        total += s.us;
        break;
      }
    }
  }
  return total;
}
