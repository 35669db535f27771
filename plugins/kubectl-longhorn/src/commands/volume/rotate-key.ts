import { randomBytes } from 'node:crypto';
import { Args, Flags } from '@oclif/core';
import { LonghornCommand, timeoutFlag, waitFlag } from '../../base-command.js';
import { PluginError } from '../../errors.js';
import {
  ROTATIONS,
  rotateKeyRequest,
  rotationPatch,
  rotationRefusal,
  rotationStep,
  rotationSummary,
  rotationToken,
} from '../../kube/key-rotation.js';
import { Progress } from '../../output/progress.js';
import { waitUntil } from '../../output/wait.js';

export default class VolumeRotateKey extends LonghornCommand {
  static override summary =
    "Rotate an encrypted volume's key-encryption key, or with --data-key its data key (every block re-encrypted online)";
  static override description =
    "Writes a fresh request TOKEN in the Volume's annotation longhorn-ts.io/kek-rotation-request (--data-key: longhorn-ts.io/data-key-rotation-request, with --bandwidth in longhorn-ts.io/data-key-rotation-bandwidth) and waits for the operator's answer in the matching -result annotation. A KEK rotation re-wraps the data key with a new KEK from the crypto Secret (no data touched; to change the passphrase, put the old one in CRYPTO_PREVIOUS_KEY_VALUE first). A data-key rotation needs the volume attached: its engine re-encrypts every block in the background, with progress from the Volume's DataKeyRotation condition; a detach pauses it and the next attach goes on. Prints the old and new key ids. A plain volume is refused before anything is written.";
  static override examples = [
    'kubectl longhorn volume rotate-key vol-1',
    'kubectl longhorn volume rotate-key vol-1 --data-key --bandwidth 8Mi',
    'kubectl longhorn volume rotate-key vol-1 --data-key --no-wait   # follow it with volume get',
  ];
  static override args = { name: Args.string({ required: true, description: 'Volume name' }) };
  static override flags = {
    'data-key': Flags.boolean({
      description: 'Replace the data key and re-encrypt every block (default: re-wrap it with a new KEK)',
      default: false,
    }),
    bandwidth: Flags.string({
      description:
        'With --data-key: re-encrypt at most this many bytes per second (4194304, 4Mi); left out, the annotation stays as it is',
    }),
    wait: waitFlag,
    timeout: timeoutFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(VolumeRotateKey);
    const request = rotateKeyRequest({ dataKey: flags['data-key'], bandwidth: flags.bandwidth });
    const client = await this.client(flags);
    const refusal = rotationRefusal(await client.get('volumes', args.name));
    if (refusal) throw refusal;
    const what = ROTATIONS[request.kind].what;
    const token = rotationToken(this.now(), randomBytes(3).toString('hex'));
    await client.patch('volumes', args.name, rotationPatch(request, token));
    if (!flags.wait) {
      this.print(`volume.longhorn.io/${args.name}: ${what} requested (request ${token})`);
      return;
    }
    const progress = new Progress(`${what} of ${args.name}`, {
      write: (t) => process.stderr.write(t),
      isTTY: !!process.stderr.isTTY,
    });
    let last = '';
    let answer: { from: string; to: string };
    try {
      answer = await waitUntil(
        `the operator to answer ${what} request ${token} of volume ${args.name}`,
        async () => {
          const step = rotationStep(await client.get('volumes', args.name), request.kind, token);
          if (step.kind === 'failed')
            throw new PluginError('FAILED', `${what} of volume ${args.name} failed: ${step.error}`);
          if (step.kind === 'done') return step;
          last = step.step;
          progress.update(step.step, step.percent);
          return undefined;
        },
        { timeoutMs: flags.timeout * 1000 },
      );
    } catch (err) {
      if (err instanceof PluginError && err.code === 'TIMEOUT' && last !== '') {
        throw new PluginError(
          'TIMEOUT',
          `${err.message} (last: ${last}); the request stays: kubectl longhorn volume get ${args.name}`,
        );
      }
      throw err;
    }
    progress.done(`${what} of ${args.name}: done`);
    this.print(rotationSummary(args.name, request, answer.from, answer.to));
  }
}
