import { describe, expect, it } from 'vitest';
import { normalizeArgv } from '../src/argv.js';
import { EXIT_CODES, exitFor, PluginError } from '../src/errors.js';

describe('normalizeArgv: kubectl-style global flags before the command', () => {
  it.each([
    [
      ['volume', 'list'],
      ['volume', 'list'],
    ],
    [
      ['--kubeconfig', 'k', 'volume', 'list'],
      ['volume', 'list', '--kubeconfig', 'k'],
    ],
    [
      ['-n', 'x', '--context=c', 'volume', 'get', 'v', '-o', 'yaml'],
      ['volume', 'get', 'v', '-n', 'x', '--context=c', '-o', 'yaml'],
    ],
    [
      ['-nfoo', 'node', 'list'],
      ['node', 'list', '-nfoo'],
    ],
    [['--help'], ['--help']],
    [['--kubeconfig'], ['--kubeconfig']],
    [
      ['--bogus', 'volume', 'list'],
      ['--bogus', 'volume', 'list'],
    ],
  ])('%j -> %j', (input, out) => {
    expect(normalizeArgv(input)).toEqual(out);
  });
});

describe('exitFor: every failure as one exit code and one line', () => {
  it('maps plugin errors by code', () => {
    expect(exitFor(new PluginError('NOT_FOUND', 'Volume "x" not found'))).toEqual({
      code: 3,
      message: 'Volume "x" not found',
    });
    expect(exitFor(new PluginError('USAGE', 'bad\nsecond line'))).toEqual({ code: 2, message: 'bad' });
    expect(EXIT_CODES.UNREACHABLE).toBe(4);
  });

  it('maps API server answers (client-node ApiException) by HTTP status, with the server sentence', () => {
    const e404 = Object.assign(new Error('HTTP-Code: 404'), {
      code: 404,
      body: '{"message":"volumes.longhorn.io \\"x\\" not found"}',
    });
    expect(exitFor(e404)).toEqual({ code: 3, message: 'volumes.longhorn.io "x" not found' });
    const e422 = Object.assign(new Error('x'), { code: 422, body: '{"message":"spec.size: Invalid value"}' });
    expect(exitFor(e422)).toEqual({ code: 1, message: 'spec.size: Invalid value' });
    const e403 = Object.assign(new Error('x'), { code: 403, body: { message: 'forbidden' } });
    expect(exitFor(e403).message).toBe('not allowed: forbidden');
  });

  it('says the API server is unreachable, with its address, for connection errors (also nested)', () => {
    const err = new Error(
      'request to https://127.0.0.1:1/apis/longhorn.io/v1beta2/namespaces/x/volumes failed',
      {
        cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      },
    );
    const exit = exitFor(err);
    expect(exit.code).toBe(4);
    expect(exit.message).toBe(
      'cannot reach the Kubernetes API server at https://127.0.0.1:1 (ECONNREFUSED); check --kubeconfig and --context',
    );
  });

  it('keeps oclif parse errors on one line with exit 2', () => {
    const missing = Object.assign(
      new Error('Missing 1 required arg:\nname  Volume name\nSee more help with --help'),
      {
        oclif: { exit: 2 },
      },
    );
    expect(exitFor(missing)).toEqual({ code: 2, message: 'Missing 1 required arg: name (Volume name)' });
    const unknown = Object.assign(new Error('command volume:lisst not found'), { oclif: { exit: 2 } });
    expect(exitFor(unknown)).toEqual({
      code: 2,
      message: 'unknown command "volume lisst"; see kubectl longhorn --help',
    });
  });

  it('any other error is exit 1 with its first line', () => {
    expect(exitFor(new Error('boom\nstack'))).toEqual({ code: 1, message: 'boom' });
    expect(exitFor('plain')).toEqual({ code: 1, message: 'plain' });
  });
});
