import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NfsSession } from '../../src/backup/nfs-session.js';
import { parseNfsUrl } from '../../src/backup/nfs-url.js';
import { freePort } from '../../src/cli/detached-process.js';
import { waitFor } from '../wait-for.js';

/** Whether something answers on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function stopChild(p: ChildProcess | null): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
  await gone;
  clearTimeout(timer);
}

/**
 * A real NFS server for the backup tests: NFS-Ganesha (Debian's nfs-ganesha + nfs-ganesha-vfs,
 * user space, installed by scripts/setup.sh) exporting a temp directory over NFSv3/TCP on its
 * own free ports of 127.0.0.1. Ganesha registers with the portmapper: when none runs, one
 * (`rpcbind -f`) is started for the server's lifetime. `stop()` stops both and removes the
 * export, also when start failed half-way.
 */
export class NfsServer {
  readonly dir = mkdtempSync(join(tmpdir(), 'lh-nfs-'));
  readonly exportDir = join(this.dir, 'export');
  url = '';
  private ganesha: ChildProcess | null = null;
  private rpcbind: ChildProcess | null = null;
  private log = '';

  async start(): Promise<void> {
    mkdirSync(this.exportDir);
    if (!(await listening(111))) {
      this.rpcbind = spawn('rpcbind', ['-f', '-w'], { stdio: 'ignore' });
      await waitFor('rpcbind to listen on 111', () => listening(111), {
        timeoutMs: 10_000,
        maxIntervalMs: 100,
      });
    }
    const [nfsPort, mountPort, nlmPort, rquotaPort] = await Promise.all(
      [0, 1, 2, 3].map(() => freePort('127.0.0.1')),
    );
    const conf = join(this.dir, 'ganesha.conf');
    writeFileSync(
      conf,
      `NFS_CORE_PARAM {
  Protocols = 3;
  NFS_Port = ${nfsPort};
  MNT_Port = ${mountPort};
  NLM_Port = ${nlmPort};
  Rquota_Port = ${rquotaPort};
  Bind_addr = 127.0.0.1;
  Enable_NLM = false;
  Enable_RQUOTA = false;
  Enable_UDP = false;
}
NFSV4 { Graceless = true; }
EXPORT {
  Export_Id = 1;
  Path = ${this.exportDir};
  Pseudo = /export;
  Access_Type = RW;
  Squash = No_Root_Squash;
  SecType = sys;
  Protocols = 3;
  Transports = TCP;
  FSAL { Name = VFS; }
}
LOG { Default_Log_Level = WARN; }
`,
    );
    this.ganesha = spawn(
      'ganesha.nfsd',
      ['-F', '-f', conf, '-L', join(this.dir, 'ganesha.log'), '-p', join(this.dir, 'ganesha.pid')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (d: Buffer) => {
      this.log = (this.log + d.toString()).slice(-4000);
    };
    this.ganesha.stdout!.on('data', keep);
    this.ganesha.stderr!.on('data', keep);
    let exited = false;
    this.ganesha.once('exit', () => {
      exited = true;
    });
    this.url = `nfs://127.0.0.1:${this.exportDir}?nfsport=${nfsPort}&mountport=${mountPort}`;
    const libnfsUrl = parseNfsUrl(this.url).libnfsUrl;
    await waitFor(
      'NFS-Ganesha to serve the export',
      async () => {
        if (exited) throw Object.assign(new Error(`ganesha.nfsd exited: ${this.log}`), { fatal: true });
        const opened = await NfsSession.open(libnfsUrl);
        if (!('session' in opened)) return false;
        await opened.session.close();
        return true;
      },
      { timeoutMs: 30_000, maxIntervalMs: 250, isFatal: (e) => (e as { fatal?: boolean }).fatal === true },
    );
  }

  /** This server's URL with another path under the export (a target inside it). */
  urlFor(sub: string): string {
    return this.url.replace(`:${this.exportDir}?`, `:${join(this.exportDir, sub)}?`);
  }

  async stop(): Promise<void> {
    await stopChild(this.ganesha);
    await stopChild(this.rpcbind);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
