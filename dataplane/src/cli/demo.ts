import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { listReplicas, loadState, volumeDown, volumeUp, withEngine } from './local-volume.js';
import { parseVolumeSize } from './size.js';

/**
 * The main job for now: brings up a 3-replica volume on simulated nodes, writes and reads it
 * through real NBD clients, takes a snapshot, prints the chain and the replicas, then serves
 * until Ctrl-C (or stops at once with --once) and tears everything down.
 */
export async function demo(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      dir: {
        type: 'string',
        default: join(
          process.env.LONGHORN_TS_CACHE ?? join(homedir(), '.cache', 'longhorn-ts'),
          'demo-volume',
        ),
      },
      replicas: { type: 'string', default: '3' },
      size: { type: 'string', default: '1GiB' },
      once: { type: 'boolean', default: false },
    },
  });
  const dir = values.dir!;
  await volumeDown(dir).catch(() => {});
  rmSync(dir, { recursive: true, force: true });
  console.log(`bringing up a volume of ${values.size} with ${values.replicas} replicas under ${dir} ...`);
  const uri = await volumeUp({ dir, replicas: Number(values.replicas), size: parseVolumeSize(values.size!) });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping ...');
    await volumeDown(dir);
    console.log('stopped');
  };
  try {
    console.log(`serving ${uri}\n`);
    console.log(execFileSync('nbdinfo', [uri], { encoding: 'utf8' }));
    run('qemu-io', ['-f', 'raw', '-c', 'write -P 0xa5 1000 70000', '-c', 'read -P 0xa5 1000 70000', uri]);
    const state = await loadState(dir);
    await withEngine(state, (e) => e.snapshotCreate('demo-1', { demo: 'true' }));
    run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x5a 4096 8192', uri]);
    const chain = await withEngine(state, (e) => e.snapshotList());
    console.log('snapshot chain (oldest first):');
    for (const s of chain)
      console.log(`  ${s.head ? 'head ' : 'snap '} ${s.name}  ${s.allocatedBytes} bytes of data`);
    console.log('\nreplicas:');
    for (const r of await listReplicas(dir))
      console.log(`  ${r.index}  ${r.id}  ${r.node}  ${r.address}  ${r.mode}`);
    if (values.once) return 0;
    console.log(
      `\nthe volume stays up: try  nbdinfo ${uri}  or  npx longhorn-local volume replicas --dir ${dir}`,
    );
    console.log('Ctrl-C stops it.');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    return 0;
  } finally {
    await stop();
  }
}

function run(cmd: string, args: string[]): void {
  console.log(`$ ${cmd} ${args.map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')}`);
  console.log(execFileSync(cmd, args, { encoding: 'utf8' }).trim());
}
