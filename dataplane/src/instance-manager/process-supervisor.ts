import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Logger } from '../logging/logger.js';
import { entryCommand } from '../process/entry-point.js';

export type ProcessKind = 'replica-server' | 'engine';

const ENTRIES: Record<ProcessKind, string> = {
  'replica-server': 'protocol/replica-server-main',
  engine: 'engine/engine-main',
};

export type ProcessState = 'starting' | 'running' | 'stopping' | 'stopped' | 'error';

export interface ProcessInfo {
  name: string;
  kind: ProcessKind;
  state: ProcessState;
  pid: number;
  ready: string;
  restarts: number;
  error: string;
  args: string[];
}

interface Managed extends ProcessInfo {
  child?: ChildProcess;
  restart: boolean;
  logTail: string[];
  log: WriteStream;
  wanted: boolean;
}

const LOG_TAIL = 500;
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;

/**
 * Starts, watches, restarts and stops the data-plane processes of one node. A process is
 * running once it printed its ready line (JSON) on stdout; everything else it prints is kept
 * in a log file and a tail for ProcessLog.
 */
export class ProcessSupervisor {
  private readonly procs = new Map<string, Managed>();

  constructor(private readonly opts: { node: string; logDir: string; env?: NodeJS.ProcessEnv; log: Logger }) {
    mkdirSync(opts.logDir, { recursive: true });
  }

  async create(name: string, kind: ProcessKind, args: string[], restart: boolean): Promise<ProcessInfo> {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(name)) {
      throw Object.assign(new Error(`process name ${JSON.stringify(name)} is invalid`), { code: 'EINVAL' });
    }
    if (!(kind in ENTRIES)) {
      throw Object.assign(new Error(`unknown process kind ${JSON.stringify(kind)}`), { code: 'EINVAL' });
    }
    const existing = this.procs.get(name);
    if (existing && existing.state !== 'stopped' && existing.state !== 'error') {
      if (existing.kind === kind && sameArgs(existing.args, args)) return this.snapshot(existing);
      throw Object.assign(new Error(`process ${name} exists with other arguments`), {
        code: 'ALREADY_EXISTS',
      });
    }
    const managed: Managed = {
      name,
      kind,
      args,
      restart,
      state: 'starting',
      pid: 0,
      ready: '',
      restarts: existing ? existing.restarts : 0,
      error: '',
      logTail: [],
      log: existing?.log ?? createWriteStream(join(this.opts.logDir, `${name}.log`), { flags: 'a' }),
      wanted: true,
    };
    this.procs.set(name, managed);
    await this.launch(managed);
    return this.snapshot(managed);
  }

  get(name: string): ProcessInfo {
    return this.snapshot(this.must(name));
  }

  list(): ProcessInfo[] {
    return [...this.procs.values()].map((p) => this.snapshot(p));
  }

  logs(name: string): string[] {
    return [...this.must(name).logTail];
  }

  async delete(name: string): Promise<ProcessInfo> {
    const p = this.must(name);
    p.wanted = false;
    await this.stop(p);
    this.procs.delete(name);
    p.log.end();
    return this.snapshot(p);
  }

  async shutdown(): Promise<void> {
    // Engines first, so they can flush to replica servers that are still up.
    const all = [...this.procs.values()].sort(
      (a, b) => (a.kind === 'engine' ? -1 : 0) - (b.kind === 'engine' ? -1 : 0),
    );
    for (const p of all) p.wanted = false;
    await Promise.all(all.filter((p) => p.kind === 'engine').map((p) => this.stop(p)));
    await Promise.all(all.filter((p) => p.kind !== 'engine').map((p) => this.stop(p)));
    for (const p of all) p.log.end();
  }

  private must(name: string): Managed {
    const p = this.procs.get(name);
    if (!p) throw Object.assign(new Error(`no process ${name}`), { code: 'NOT_FOUND' });
    return p;
  }

  private snapshot(p: Managed): ProcessInfo {
    return {
      name: p.name,
      kind: p.kind,
      state: p.state,
      pid: p.pid,
      ready: p.ready,
      restarts: p.restarts,
      error: p.error,
      args: p.args,
    };
  }

  private launch(p: Managed): Promise<void> {
    const { command, args } = entryCommand(ENTRIES[p.kind]);
    const child = spawn(command, [...args, ...p.args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        // Replica I/O runs on libuv's pool: give it nbdkit's 16 threads, not libuv's default 4.
        UV_THREADPOOL_SIZE: '16',
        ...process.env,
        ...this.opts.env,
        NODE_NAME: this.opts.node,
        LONGHORN_EXIT_WITH_PARENT: '1',
      },
    });
    p.child = child;
    p.pid = child.pid ?? 0;
    p.state = 'starting';
    p.ready = '';
    const record = (line: string) => {
      p.log.write(`${line}\n`);
      p.logTail.push(line);
      if (p.logTail.length > LOG_TAIL) p.logTail.shift();
    };
    createInterface({ input: child.stderr! }).on('line', record);
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(
        () => fail(new Error(`process ${p.name} not ready after ${READY_TIMEOUT_MS} ms`)),
        READY_TIMEOUT_MS,
      );
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        p.state = 'error';
        p.error = err.message;
        child.kill('SIGKILL');
        reject(err);
      };
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          p.ready = line;
          p.state = 'running';
          resolve();
        } else record(line);
      });
      child.on('error', (err) => fail(err));
      child.on('exit', (code, signal) => {
        const how = signal ? `signal ${signal}` : `code ${code}`;
        if (!settled) {
          fail(
            new Error(
              `process ${p.name} exited with ${how} before it was ready: ${p.logTail.slice(-5).join(' | ')}`,
            ),
          );
          return;
        }
        if (p.child !== child) return;
        p.child = undefined;
        if (!p.wanted) {
          p.state = 'stopped';
          return;
        }
        p.error = `exited with ${how}`;
        this.opts.log.warn({ process: p.name, how }, 'process exited');
        record(`[instance-manager] ${p.name} exited with ${how}${p.restart ? '; restarting' : ''}`);
        if (p.restart) {
          p.restarts++;
          p.state = 'starting';
          const delay = Math.min(5000, 200 * 2 ** Math.min(p.restarts, 5));
          setTimeout(() => {
            if (!p.wanted || this.procs.get(p.name) !== p) return;
            this.launch(p).catch((err) =>
              this.opts.log.error({ process: p.name, err: err.message }, 'restart failed'),
            );
          }, delay).unref();
        } else p.state = 'error';
      });
    });
  }

  private async stop(p: Managed): Promise<void> {
    const child = p.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      p.state = 'stopped';
      return;
    }
    p.state = 'stopping';
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
    p.state = 'stopped';
  }
}

function sameArgs(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
