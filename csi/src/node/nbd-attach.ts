import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { CsiError } from '../errors.js';
import { pollUntil } from '../poll.js';
import { runCommand } from './commands.js';
import { attachLoop, detachLoop, loopDevicesOf } from './loop-devices.js';
import { mountAt } from './mount-table.js';

/** Where one volume's attachment lives on this node: all of it derives from the volume id. */
export interface AttachPaths {
  dir: string;
  /** nbdfuse's mount point. */
  fuseDir: string;
  /** The file nbdfuse exports: the volume's bytes. */
  file: string;
  pidFile: string;
  logFile: string;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A volume's NBD endpoint as a block device without kernel NBD: nbdfuse exports the NBD
 * device as a file under a FUSE mount, and a loop device is set up over that file. Every path
 * derives from the volume id, so a restarted node plugin finds (and removes) what an earlier
 * one left. nbdfuse runs in its own session: restarting the node plugin does not take mounted
 * file systems down with it.
 */
export class NbdAttacher {
  constructor(
    private readonly stateDir: string,
    private readonly log: Logger,
  ) {}

  paths(volumeId: string): AttachPaths {
    const dir = join(this.stateDir, 'volumes', volumeId);
    const fuseDir = join(dir, 'fuse');
    return {
      dir,
      fuseDir,
      file: join(fuseDir, 'nbd'),
      pidFile: join(dir, 'nbdfuse.pid'),
      logFile: join(dir, 'nbdfuse.log'),
    };
  }

  /** The loop device of an attached volume, if it is attached here. */
  async device(volumeId: string): Promise<string | undefined> {
    return (await loopDevicesOf(this.paths(volumeId).file))[0];
  }

  private async pid(p: AttachPaths): Promise<number | undefined> {
    const text = await readFile(p.pidFile, 'utf8').catch(() => '');
    const pid = Number(text.trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  }

  /** Whether nbdfuse serves the file (its mount is there and the file answers stat). */
  private async fuseServing(p: AttachPaths): Promise<boolean> {
    if ((await mountAt(p.fuseDir)) === undefined) return false;
    return stat(p.file).then(
      (s) => s.size > 0,
      () => false,
    );
  }

  /** Attaches `uri` (nbd://host:port) for the volume; idempotent. Resolves with the loop device. */
  async attach(volumeId: string, uri: string, timeoutMs = 30_000): Promise<string> {
    const p = this.paths(volumeId);
    const log = this.log.child({ volume: volumeId });
    if (!(await this.fuseServing(p))) {
      // A dead nbdfuse leaves a mount that answers ENOTCONN: clear it and any loop over it.
      await this.release(volumeId, { keepDir: true });
      await mkdir(p.fuseDir, { recursive: true });
      await rm(p.pidFile, { force: true });
      const out = openSync(p.logFile, 'a');
      try {
        const child = spawn('nbdfuse', ['-P', p.pidFile, p.fuseDir, uri], {
          detached: true,
          stdio: ['ignore', out, out],
        });
        child.unref();
        let exited: number | null | undefined;
        child.on('exit', (code) => {
          exited = code;
        });
        child.on('error', () => {
          exited = -1;
        });
        log.info({ uri, pid: child.pid }, 'nbdfuse started');
        await pollUntil(`nbdfuse to serve ${uri} for volume ${volumeId}`, timeoutMs, async () => {
          if (exited !== undefined) {
            const tail = (await readFile(p.logFile, 'utf8').catch(() => '')).trim().split('\n').slice(-3);
            throw new CsiError('UNAVAILABLE', `nbdfuse for ${uri} exited (${exited}): ${tail.join(' | ')}`);
          }
          return (await this.pid(p)) !== undefined && (await this.fuseServing(p));
        });
      } finally {
        closeSync(out);
      }
    }
    const existing = await loopDevicesOf(p.file);
    if (existing[0] !== undefined) return existing[0];
    const device = await attachLoop(p.file);
    log.info({ device, file: p.file }, 'loop device attached');
    return device;
  }

  /**
   * Removes everything of the volume's attachment: loop devices over its file, the FUSE mount,
   * the nbdfuse process, the directory. Safe to repeat, and after a restart of this process.
   */
  async release(volumeId: string, options: { keepDir?: boolean } = {}): Promise<void> {
    const p = this.paths(volumeId);
    for (const device of await loopDevicesOf(p.file)) {
      await detachLoop(device);
      this.log.info({ volume: volumeId, device }, 'loop device detached');
    }
    if ((await mountAt(p.fuseDir)) !== undefined) {
      // -z: a dead nbdfuse's mount cannot be unmounted the ordinary way.
      await runCommand('fusermount3', ['-u', p.fuseDir], { okCodes: [1] }).then((r) =>
        r.code === 0 ? undefined : runCommand('fusermount3', ['-u', '-z', p.fuseDir]),
      );
    }
    const pid = await this.pid(p);
    if (pid !== undefined && processAlive(pid)) {
      // Unmounted, nbdfuse exits by itself; a wedged one is told to.
      const gone = await pollUntil('nbdfuse to exit', 5_000, async () => !processAlive(pid)).then(
        () => true,
        () => false,
      );
      if (!gone) process.kill(pid, 'SIGKILL');
    }
    if (!options.keepDir) await rm(p.dir, { recursive: true, force: true });
  }
}
