import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { waitFor } from './wait.js';

export interface ProcessSpec {
  /** Short name used in logs and in the state file, e.g. `kube-apiserver` or `node-1/replica`. */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout and stderr are appended here. */
  logFile: string;
  /**
   * true: the process outlives this Node.js process (the `cluster up` CLI); it is stopped
   * later by its recorded process group id. false (default): it is killed when this process
   * exits, however it exits.
   */
  outliveParent?: boolean;
}

/** What a state file keeps about a process, enough to stop it from another process. */
export interface ProcessRecord {
  name: string;
  pid: number;
  /** Every process is the leader of its own group: pgid === pid. */
  pgid: number;
  logFile: string;
  command: string;
  args: string[];
}

/**
 * Processes of the group that still run. Zombies do not count: an orphan (a `cluster up`
 * process whose starter is gone) is reaped by whatever runs as init, which may take its time.
 */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return groupSignalable(pgid) ? [pgid] : [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') members.push(Number(entry));
  }
  return members;
}

function groupSignalable(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True while any process of the group runs (zombies aside). */
export function groupAlive(pgid: number): boolean {
  return groupSignalable(pgid) && groupMembers(pgid).length > 0;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/**
 * SIGTERM to the whole group, then SIGKILL once `graceMs` passes; resolves when no process of
 * the group is left.
 */
export async function stopGroup(pgid: number, graceMs = 10_000): Promise<void> {
  if (!groupAlive(pgid)) return;
  if (graceMs > 0) {
    signalGroup(pgid, 'SIGTERM');
    try {
      await waitFor(`process group ${pgid} to exit`, () => !groupAlive(pgid), {
        timeoutMs: graceMs,
        maxIntervalMs: 100,
      });
      return;
    } catch {
      // still there after the grace period: kill it below
    }
  }
  signalGroup(pgid, 'SIGKILL');
  await waitFor(`process group ${pgid} to die`, () => !groupAlive(pgid), {
    timeoutMs: 10_000,
    maxIntervalMs: 50,
  });
}

// Groups to kill if this process goes away before stopping them (a failed or interrupted test).
const owned = new Set<number>();
let handlersInstalled = false;
let signalsTakenOver = false;

/**
 * For a program that handles SIGINT/SIGTERM itself and stops its processes gracefully (the
 * foreground `cluster run`): the harness then only kills what is left when the process exits.
 */
export function takeOverSignals(): void {
  signalsTakenOver = true;
}

function killOwnedNow(): void {
  for (const pgid of owned) signalGroup(pgid, 'SIGKILL');
  owned.clear();
}

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killOwnedNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      if (signalsTakenOver) return;
      killOwnedNow();
      // Whoever else listens decides what happens next; alone, keep the default: die of it.
      if (process.listenerCount(signal) <= 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

/** A child process in its own process group, its output in a log file. */
export class ManagedProcess {
  readonly pid: number;
  readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  private constructor(
    readonly spec: ProcessSpec,
    child: ChildProcess,
  ) {
    if (child.pid === undefined) throw new Error(`${spec.name}: spawn gave no pid`);
    this.pid = child.pid;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        resolve(this.exitCode);
      });
    });
  }

  static start(spec: ProcessSpec): ManagedProcess {
    mkdirSync(dirname(spec.logFile), { recursive: true });
    const fd = openSync(spec.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(spec.command, spec.args, {
        cwd: spec.cwd,
        env: spec.env ?? process.env,
        stdio: ['ignore', fd, fd],
        detached: true,
      });
    } finally {
      closeSync(fd);
    }
    let spawnError: Error | undefined;
    child.once('error', (err) => {
      spawnError = err;
    });
    if (child.pid === undefined) {
      // The reason (ENOENT, EACCES) only arrives as an event; the missing pid says enough.
      throw new Error(
        `${spec.name}: cannot start ${spec.command}${spawnError ? `: ${spawnError.message}` : ''}`,
      );
    }
    const started = new ManagedProcess(spec, child);
    if (spec.outliveParent) {
      child.unref();
    } else {
      installExitHandlers();
      owned.add(started.pid);
      void started.exited.then(() => owned.delete(started.pid));
    }
    return started;
  }

  get name(): string {
    return this.spec.name;
  }

  get logFile(): string {
    return this.spec.logFile;
  }

  /** Still running (the group leader has not exited). */
  get running(): boolean {
    return this.exitCode === undefined;
  }

  record(): ProcessRecord {
    return {
      name: this.spec.name,
      pid: this.pid,
      pgid: this.pid,
      logFile: this.spec.logFile,
      command: this.spec.command,
      args: this.spec.args,
    };
  }

  /** Graceful stop of the whole group (SIGTERM, then SIGKILL after graceMs). */
  async stop(graceMs = 10_000): Promise<void> {
    await stopGroup(this.pid, graceMs);
    owned.delete(this.pid);
    // The group is gone; wait for Node to reap the leader so `running` and `exited` agree.
    await this.exited;
  }

  /** Abrupt loss: SIGKILL to the whole group, as when a machine dies. */
  async kill(): Promise<void> {
    await stopGroup(this.pid, 0);
    owned.delete(this.pid);
    await this.exited;
  }
}
