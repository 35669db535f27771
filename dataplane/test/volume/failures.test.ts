import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalVolume } from './cli.js';

const MiB = 1 << 20;
const SIZE = 256 * MiB;

/**
 * Where each load runs: fio's two jobs and the zeroer never touch each other's bytes. The trim
 * job starts at 0: fio 3.33's randtrimwrite with an --offset only trims, never writes.
 */
const TRIM_REGION = { offset: 0, size: 64 * MiB };
const WRITE_REGION = { offset: 64 * MiB, size: 128 * MiB };
const ZERO_REGION = { offset: 192 * MiB, size: 8 * MiB };

interface FioResult {
  code: number | null;
  out: string;
  err: string;
}

interface Fio {
  child: ChildProcess;
  done: Promise<FioResult>;
  /** Writes and trims done so far, from fio's latest status report (one a second). */
  ios(): number;
}

/** fio's JSON reports in its output (one per status interval, the last one final). */
function fioReports(out: string): { jobs: FioJob[] }[] {
  return [...out.matchAll(/^\{\n[\s\S]*?^\}$/gm)].map((m) => JSON.parse(m[0]));
}

interface FioJob {
  jobname: string;
  error: number;
  read: { total_ios: number };
  write: { total_ios: number };
  trim: { total_ios: number };
}

/**
 * fio with crc32c verification through the nbd engine until stopped: random writes in one
 * region, and in another random trims each followed by a write of the same block (fio's
 * randtrimwrite; serialize_overlap keeps a block's trim and write from being in flight together,
 * since NBD does not order them).
 */
function startFio(uri: string, seconds: number): Fio {
  const child = spawn(
    'fio',
    [
      // Global options (before the first --name) apply to both jobs.
      '--ioengine=nbd',
      `--uri=${uri}`,
      '--bs=4k',
      '--iodepth=16',
      `--runtime=${seconds}`,
      '--time_based',
      '--verify=crc32c',
      '--verify_fatal=1',
      '--do_verify=1',
      '--verify_backlog=256',
      '--verify_state_save=0',
      '--output-format=json',
      '--status-interval=1',
      '--name=write',
      '--rw=randwrite',
      `--offset=${WRITE_REGION.offset}`,
      `--size=${WRITE_REGION.size}`,
      '--name=trim',
      '--rw=randtrimwrite',
      '--serialize_overlap=1',
      `--size=${TRIM_REGION.size}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // JSON reports on stdout, verify complaints on stderr: kept apart so the reports parse.
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const done = new Promise<FioResult>((resolve) => child.on('close', (code) => resolve({ code, out, err })));
  const ios = () => {
    const last = fioReports(out).at(-1);
    return last ? last.jobs.reduce((n, j) => n + j.write.total_ios + j.trim.total_ios, 0) : 0;
  };
  return { child, done, ios };
}

/** Runs qemu-io with these commands on one connection; resolves with its exit code and output. */
function qemuIo(
  uri: string,
  commands: string[],
  onStart?: (child: ChildProcess) => void,
): Promise<FioResult> {
  const child = spawn('qemu-io', ['-f', 'raw', ...commands.flatMap((c) => ['-c', c]), uri], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onStart?.(child);
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out, err: '' })));
}

const RANGE = 64 * 1024;
const RANGES = ZERO_REGION.size / RANGE;
const PER_BATCH = 32;

/** What one range of the zeroer's region holds: a pattern byte with a zeroed piece inside. */
interface RangeState {
  pattern: number;
  zeroAt: number;
  zeroLength: number;
}

/**
 * WRITE_ZEROES under load, with the bytes checked: batches of qemu-io commands over a small
 * region, each range written with a pattern, then a piece of it zeroed (aligned or not, with and
 * without leave-holes), then read back. The zeroed piece moves every pass, so a range zeroed
 * while a replica rebuilds held data at the rebuild's join point: the case where a rebuilt
 * replica could show old data through a hole its own zeroing punched (Longhorn #4354's class).
 */
class Zeroer {
  batches = 0;
  readonly failures: string[] = [];
  private readonly state = new Map<number, RangeState>();
  private stopping = false;
  private current: ChildProcess | null = null;
  private readonly done: Promise<void>;

  constructor(private readonly uri: string) {
    this.done = this.loop();
  }

  /** Ends the loop after the batch in flight; `now` kills that batch (cleanup after a failure). */
  async stop(now = false): Promise<void> {
    this.stopping = true;
    if (now) this.current?.kill('SIGKILL');
    await this.done;
  }

  /** Reads every range back through the engine (`passes` times: reads go round-robin). */
  async verify(passes: number): Promise<void> {
    const reads: string[] = [];
    for (const [i, s] of this.state) reads.push(...this.reads(i, s));
    for (let p = 0; p < passes; p++) this.check('final verify', await qemuIo(this.uri, reads));
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      const b = this.batches;
      const commands: string[] = [];
      const next = new Map<number, RangeState>();
      for (let r = 0; r < PER_BATCH; r++) {
        const i = (b * PER_BATCH + r) % RANGES;
        const pass = Math.floor((b * PER_BATCH + r) / RANGES);
        const quarter = (pass + i) % 4;
        const aligned = (i + pass) % 2 === 0;
        const s: RangeState = {
          pattern: 1 + ((pass * 7 + i) % 250),
          zeroAt: quarter * 16 * 1024 + (aligned ? 0 : 1000),
          zeroLength: aligned ? 16 * 1024 : 10_000,
        };
        const off = ZERO_REGION.offset + i * RANGE;
        commands.push(`write -P ${s.pattern} ${off} ${RANGE}`);
        // -u lets the device punch (NBD_CMD_WRITE_ZEROES without NO_HOLE); without it, NO_HOLE.
        commands.push(`write -z ${(i + pass) % 3 === 0 ? '-u ' : ''}${off + s.zeroAt} ${s.zeroLength}`);
        commands.push(...this.reads(i, s));
        next.set(i, s);
      }
      const result = await qemuIo(this.uri, commands, (child) => {
        this.current = child;
      });
      this.current = null;
      if (this.stopping && result.code === null) return; // killed by stop(true)
      this.check(`batch ${b}`, result);
      for (const [i, s] of next) this.state.set(i, s);
      this.batches++;
    }
  }

  private reads(i: number, s: RangeState): string[] {
    const off = ZERO_REGION.offset + i * RANGE;
    const tail = s.zeroAt + s.zeroLength;
    return [
      ...(s.zeroAt > 0 ? [`read -P ${s.pattern} ${off} ${s.zeroAt}`] : []),
      `read -P 0 ${off + s.zeroAt} ${s.zeroLength}`,
      ...(tail < RANGE ? [`read -P ${s.pattern} ${off + tail} ${RANGE - tail}`] : []),
    ];
  }

  private check(what: string, result: FioResult): void {
    const bad = result.out.split('\n').filter((l) => /verification failed|error|failed/i.test(l));
    if (result.code !== 0 || bad.length > 0) {
      this.failures.push(`${what}: qemu-io exited ${result.code}: ${bad.slice(0, 5).join(' | ')}`);
    }
  }
}

describe('a volume under fio and WRITE_ZEROES load loses replicas and rebuilds them', () => {
  const vol = new LocalVolume();
  let uri = '';
  let fio: Fio | null = null;
  let zeroer: Zeroer | null = null;

  beforeAll(async () => {
    uri = await vol.up(3, '256MiB');
  }, 120_000);

  afterAll(async () => {
    try {
      fio?.child.kill('SIGKILL');
      await zeroer?.stop(true);
    } finally {
      await vol.down();
    }
  }, 120_000);

  it('keeps serving with zero verify errors through two kills and two rebuilds, writes, trims and zeroing mixed', async () => {
    // fio runs until we stop it with SIGINT after both rebuilds, so slow machines still test
    // the rebuilds under load; fio then verifies and reports as usual.
    fio = startFio(uri, 900);
    zeroer = new Zeroer(uri);
    const z = zeroer;
    const f = fio;
    const modes = async () => (await vol.replicas()).map((r) => r.mode);
    /** Waits until fio and the zeroer both got I/O done since the call. */
    const loadRuns = async (what: string) => {
      const ios = f.ios();
      const batches = z.batches;
      await vol.waitFor(
        `fio and the zeroer to make progress (${what})`,
        async () => z.batches >= batches + 2 && f.ios() >= ios + 2000,
      );
    };

    await loadRuns('before any failure');
    await vol.cli('kill-replica', '--index', '1');
    await vol.waitFor('replica 1 to be ERR', async () => (await modes())[1] === 'ERR');
    await loadRuns('one replica down');
    await vol.cli('kill-replica', '--index', '2');
    await vol.waitFor('replica 2 to be ERR', async () => (await modes())[2] === 'ERR');
    expect(await modes()).toEqual(['RW', 'ERR', 'ERR']);
    await loadRuns('two replicas down');

    await vol.cli('add-replica');
    await vol.cli('add-replica');
    expect(fio.child.exitCode, 'fio was still writing while both replicas rebuilt').toBeNull();
    await loadRuns('after both rebuilds');
    fio.child.kill('SIGINT');
    await zeroer.stop();
    const rows = await vol.replicas();
    expect(rows.filter((r) => r.mode === 'RW')).toHaveLength(3);
    expect(rows.filter((r) => r.mode === 'RW').map((r) => r.index)).toEqual([0, 3, 4]);

    const result = await fio.done;
    const jobs = fioReports(result.out).at(-1)!.jobs;
    expect(jobs.map((j) => j.jobname)).toEqual(['write', 'trim']);
    for (const job of jobs) expect(job.error, `${job.jobname}: ${result.err.slice(-2000)}`).toBe(0);
    const [writer, trimmer] = jobs as [FioJob, FioJob];
    expect(writer.write.total_ios).toBeGreaterThan(1000);
    // Verification reads happened (verify_backlog checks written blocks while running).
    expect(writer.read.total_ios).toBeGreaterThan(100);
    expect(trimmer.trim.total_ios).toBeGreaterThan(100);
    expect(trimmer.write.total_ios).toBeGreaterThan(100);
    expect(trimmer.read.total_ios).toBeGreaterThan(10);
    expect(result.err).not.toMatch(/verify: bad|crc32c: verify failed/i);

    // Every zeroing read back as zeros and every pattern around it stayed, during the run and
    // now (three passes: reads go round-robin over the replicas).
    expect(zeroer.batches).toBeGreaterThan(8);
    await zeroer.verify(3);
    expect(zeroer.failures).toEqual([]);

    // Every RW replica's merged content is the same, byte for byte.
    const hashes = await Promise.all(
      rows.filter((r) => r.mode === 'RW').map((r) => vol.replicaHash(r, SIZE)),
    );
    expect(new Set(hashes).size).toBe(1);
  }, 300_000);
});
