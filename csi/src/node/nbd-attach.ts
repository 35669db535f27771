import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { CsiError } from '../errors.js';
import { pollUntil } from '../poll.js';
import { runCommand } from './commands.js';
import { fuseHelperPath } from './fuse-helper.js';
import { attachLoop, detachLoop, deviceSize, loopDevicesOf, refreshLoopCapacity } from './loop-devices.js';
import { mountAt } from './mount-table.js';

/** Where one volume's attachment lives on this node: all of it derives from the volume id. */
export interface AttachPaths {
  dir: string;
  /** lh-nbdfuse's mount point. */
  fuseDir: string;
  /** The file lh-nbdfuse exports: the volume's bytes. */
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

/** The command name of a live process, '' when it is gone. */
async function processName(pid: number): Promise<string> {
  return (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
}

/**
 * A volume's NBD endpoint as a block device without kernel NBD: lh-nbdfuse (csi/native) exports
 * the NBD device as a file under a FUSE mount, and a loop device is set up over that file.
 * Every path derives from the volume id, so a restarted node plugin finds (and removes) what an
 * earlier one left, also an nbdfuse of an older layout (same paths). The helper runs in its own
 * session: restarting the node plugin does not take mounted file systems down with it. Unlike
 * nbdfuse it can grow: on SIGHUP it reconnects and reports the export's new size.
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
      // nbdfuse's names, so that attachments an older node plugin made are found and released.
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

  /** Whether the helper serves the file (its mount is there and the file answers stat). */
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
      // A dead helper leaves a mount that answers ENOTCONN: clear it and any loop over it.
      await this.release(volumeId, { keepDir: true });
      await mkdir(p.fuseDir, { recursive: true });
      await rm(p.pidFile, { force: true });
      const out = openSync(p.logFile, 'a');
      const helper = fuseHelperPath();
      try {
        const child = spawn(helper, ['-P', p.pidFile, p.fuseDir, uri], {
          detached: true,
          stdio: ['ignore', out, out],
        });
        child.unref();
        let exited: number | null | undefined;
        let spawnError: Error | undefined;
        child.on('exit', (code) => {
          exited = code;
        });
        child.on('error', (err) => {
          spawnError = err;
          exited = -1;
        });
        log.info({ uri, pid: child.pid, helper }, 'lh-nbdfuse started');
        await pollUntil(`lh-nbdfuse to serve ${uri} for volume ${volumeId}`, timeoutMs, async () => {
          if (spawnError)
            throw new CsiError(
              'INTERNAL',
              `cannot run ${helper} (${spawnError.message}): build it with scripts/setup.sh or set LH_NBDFUSE`,
            );
          if (exited !== undefined) {
            const tail = (await readFile(p.logFile, 'utf8').catch(() => '')).trim().split('\n').slice(-3);
            throw new CsiError(
              'UNAVAILABLE',
              `lh-nbdfuse for ${uri} exited (${exited}): ${tail.join(' | ')}`,
            );
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
   * Grows the attached volume's loop device to at least `wantedBytes` once the engine serves
   * that size: lh-nbdfuse is told to reconnect (SIGHUP, repeated while the export is still
   * smaller), the file's size is read back (the helper keeps no attribute cache), and the loop
   * device re-reads it (LOOP_SET_CAPACITY). Idempotent. Resolves with the device and its size.
   */
  async grow(
    volumeId: string,
    wantedBytes: number,
    timeoutMs = 30_000,
  ): Promise<{ device: string; sizeBytes: number }> {
    const p = this.paths(volumeId);
    const log = this.log.child({ volume: volumeId });
    const device = (await loopDevicesOf(p.file))[0];
    if (!device) throw new CsiError('NOT_FOUND', `volume ${volumeId} is not attached on this node`);
    const fileSize = async () => (await stat(p.file)).size;
    if ((await fileSize()) < wantedBytes) {
      const pid = await this.pid(p);
      const name = pid === undefined ? '' : await processName(pid);
      if (pid === undefined || name === '')
        throw new CsiError('UNAVAILABLE', `volume ${volumeId}'s FUSE helper is not running: stage it again`);
      // nbdfuse (an attachment made before lh-nbdfuse) would take SIGHUP as "exit".
      if (name !== 'lh-nbdfuse')
        throw new CsiError(
          'FAILED_PRECONDITION',
          `volume ${volumeId} is attached through ${name}, which cannot grow: unstage and stage it again`,
        );
      let lastSignal = 0;
      await pollUntil(`volume ${volumeId}'s export to reach ${wantedBytes} bytes`, timeoutMs, async () => {
        if ((await fileSize()) >= wantedBytes) return true;
        if (Date.now() - lastSignal >= 1_000) {
          process.kill(pid, 'SIGHUP');
          lastSignal = Date.now();
        }
        return false;
      });
      log.info({ wantedBytes, sizeBytes: await fileSize() }, 'FUSE export grown');
    }
    if ((await deviceSize(device)) < (await fileSize())) {
      await refreshLoopCapacity(device);
      log.info({ device, sizeBytes: await deviceSize(device) }, 'loop device grown');
    }
    const sizeBytes = await deviceSize(device);
    if (sizeBytes < wantedBytes)
      throw new CsiError(
        'INTERNAL',
        `loop device ${device} of volume ${volumeId} has ${sizeBytes} bytes after a capacity refresh, ${wantedBytes} asked`,
      );
    return { device, sizeBytes };
  }

  /**
   * Removes everything of the volume's attachment: loop devices over its file, the FUSE mount,
   * the helper process, the directory. Safe to repeat, and after a restart of this process.
   */
  async release(volumeId: string, options: { keepDir?: boolean } = {}): Promise<void> {
    const p = this.paths(volumeId);
    for (const device of await loopDevicesOf(p.file)) {
      await detachLoop(device);
      this.log.info({ volume: volumeId, device }, 'loop device detached');
    }
    if ((await mountAt(p.fuseDir)) !== undefined) {
      // -z: a dead helper's mount cannot be unmounted the ordinary way.
      await runCommand('fusermount3', ['-u', p.fuseDir], { okCodes: [1] }).then((r) =>
        r.code === 0 ? undefined : runCommand('fusermount3', ['-u', '-z', p.fuseDir]),
      );
    }
    const pid = await this.pid(p);
    if (pid !== undefined && processAlive(pid)) {
      // Unmounted, the helper exits by itself; a wedged one is told to.
      const gone = await pollUntil('the FUSE helper to exit', 5_000, async () => !processAlive(pid)).then(
        () => true,
        () => false,
      );
      if (!gone) process.kill(pid, 'SIGKILL');
    }
    if (!options.keepDir) await rm(p.dir, { recursive: true, force: true });
  }
}
