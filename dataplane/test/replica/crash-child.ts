/**
 * Crash-test child: opens (or creates) a replica and applies random ops forever, reporting
 * "B i" before and "A i" after op i on stdout, until the parent kills it with SIGKILL.
 * Usage: crash-child.ts <dir> <model-file> <seed> <create 0|1> <counter-start>
 */
import fs from 'node:fs';
import v8 from 'node:v8';
import { Replica } from '../../src/replica/index.js';
import { modelFromState } from './model.js';
import { applyToModel, applyToReplica, CRASH_PROFILE, nextOp, rng } from './random-ops.js';

const [dir, modelFile, seedArg, createArg, counterArg] = process.argv.slice(2);
const model = modelFromState(v8.deserialize(fs.readFileSync(modelFile!)));
const say = (line: string): void => {
  fs.writeSync(1, `${line}\n`);
};

const replica =
  createArg === '1' ? await Replica.create(dir!, { size: model.size }) : await Replica.open(dir!);
say('R');
const r = rng(Number(seedArg));
const counter = { n: Number(counterArg) };
for (let i = 0; i < 1_000_000; i++) {
  const op = nextOp(model, r, counter, CRASH_PROFILE);
  say(`B ${i}`);
  await applyToReplica(replica, op);
  applyToModel(model, op);
  say(`A ${i}`);
}
