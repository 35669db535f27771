import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

/**
 * Starts a long-lived process in its own process group that outlives this CLI: stderr goes to
 * `logFile`, and the first stdout line (its ready JSON) is returned.
 */
export async function startDetached(
  command: string,
  args: string[],
  logFile: string,
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 60_000,
): Promise<{ pid: number; ready: Record<string, unknown> }> {
  const errFd = openSync(logFile, 'a');
  const child = spawn(command, args, {
    detached: true,
    stdio: ['ignore', 'pipe', errFd],
    env: { ...process.env, ...env },
  });
  closeSync(errFd);
  try {
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${args.join(' ')}: not ready after ${timeoutMs} ms`)),
        timeoutMs,
      );
      const rl = createInterface({ input: child.stdout! });
      rl.once('line', (l) => {
        clearTimeout(timer);
        rl.close();
        resolve(l);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`process exited (${signal ?? code}) before it was ready; see ${logFile}`));
      });
      child.once('error', reject);
    });
    child.stdout!.destroy();
    child.unref();
    return { pid: child.pid!, ready: JSON.parse(line) as Record<string, unknown> };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}

/** True while `pid` runs; a zombie (exited, not yet reaped by its new parent) counts as gone. */
export function isAlive(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** Sends SIGTERM, waits up to `graceMs`, then SIGKILL; resolves once the process is gone. */
export async function stopProcess(pid: number, graceMs = 15_000): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  if (isAlive(pid)) {
    process.kill(pid, 'SIGKILL');
    while (isAlive(pid)) await sleep(20);
  }
}

/** A port free on `host` right now (the caller binds it soon after). */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
