import { ApiException, type ConfigurationOptions, HttpMethod, RequestContext } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ApiCallError, ConflictError, isConflict, NotFoundError } from '../../src/runtime/api-errors.js';
import { type StatusApi, StatusWriter } from '../../src/runtime/status-writer.js';

const VOLUME = { group: 'longhorn.io', version: 'v1beta2', plural: 'volumes', kind: 'Volume' };

interface Call {
  method: string;
  param: Record<string, unknown>;
  options?: ConfigurationOptions;
}

function fakeApi(answer: (call: Call) => unknown): { api: StatusApi; calls: Call[] } {
  const calls: Call[] = [];
  const handle = async (call: Call) => {
    calls.push(call);
    const out = answer(call);
    if (out instanceof Error) throw out;
    return out;
  };
  return {
    calls,
    api: {
      replaceNamespacedCustomObjectStatus: (param) => handle({ method: 'replace', param }),
      patchNamespacedCustomObjectStatus: (param, options) => handle({ method: 'patch', param, options }),
    },
  };
}

const volume = {
  apiVersion: 'longhorn.io/v1beta2',
  kind: 'Volume',
  metadata: { name: 'vol', namespace: 'longhorn-system', resourceVersion: '41' },
  spec: { numberOfReplicas: 3 },
  status: { state: 'detached' },
};

const status = (code: number, reason: string, message: string) =>
  new ApiException(code, `HTTP-Code: ${code}`, JSON.stringify({ kind: 'Status', reason, message, code }), {});

describe('StatusWriter', () => {
  it('replaces the status with the resourceVersion it read', async () => {
    const { api, calls } = fakeApi((c) => ({ ...(c.param.body as object), stored: true }));
    const writer = new StatusWriter<{ state: string }>(api, VOLUME);
    const out = await writer.replaceStatus(volume, { state: 'attached' });
    expect(calls).toEqual([
      {
        method: 'replace',
        param: {
          group: 'longhorn.io',
          version: 'v1beta2',
          plural: 'volumes',
          namespace: 'longhorn-system',
          name: 'vol',
          fieldManager: 'longhorn-ts-operator',
          body: { ...volume, status: { state: 'attached' } },
        },
      },
    ]);
    expect(out).toMatchObject({ stored: true, status: { state: 'attached' } });
  });

  it('merge-patches the status with the resourceVersion as precondition', async () => {
    const { api, calls } = fakeApi(() => volume);
    const writer = new StatusWriter<{ state: string; robustness: string }>(api, VOLUME);
    await writer.patchStatus(volume, { robustness: 'healthy' });
    expect(calls[0]!.param).toMatchObject({
      name: 'vol',
      body: { metadata: { resourceVersion: '41' }, status: { robustness: 'healthy' } },
    });
    // The options carry a middleware that makes it a JSON merge patch.
    const ctx = new RequestContext('https://api/x', HttpMethod.PATCH);
    ctx.setHeaderParam('Content-Type', 'application/json-patch+json');
    for (const mw of calls[0]!.options?.middleware ?? []) await mw.pre(ctx).toPromise();
    expect(ctx.getHeaders()['Content-Type']).toBe('application/merge-patch+json');
  });

  it.each([
    { code: 409, type: ConflictError, errCode: 'CONFLICT' },
    { code: 404, type: NotFoundError, errCode: 'NOT_FOUND' },
    { code: 500, type: ApiCallError, errCode: 'API_ERROR' },
    { code: 422, type: ApiCallError, errCode: 'API_ERROR' },
  ])('an HTTP $code becomes $errCode', async ({ code, type, errCode }) => {
    const { api } = fakeApi(() => status(code, 'Reason', 'the object has been modified'));
    const writer = new StatusWriter(api, VOLUME);
    const err = await writer.replaceStatus(volume, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(type);
    expect(err).toMatchObject({
      code: errCode,
      status: code,
      ref: { kind: 'Volume', namespace: 'longhorn-system', name: 'vol' },
      message: 'Volume longhorn-system/vol: replace status: the object has been modified',
    });
    expect(isConflict(err)).toBe(code === 409);
  });

  it('a failure without an HTTP answer is an API error without status', async () => {
    const { api } = fakeApi(() => new Error('connect ECONNREFUSED 127.0.0.1:6443'));
    const err = await new StatusWriter(api, VOLUME).patchStatus(volume, {}).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'API_ERROR',
      status: undefined,
      message: 'Volume longhorn-system/vol: patch status: connect ECONNREFUSED 127.0.0.1:6443',
    });
  });

  it('refuses to write without a resourceVersion', async () => {
    const { api, calls } = fakeApi(() => volume);
    const writer = new StatusWriter(api, VOLUME);
    const bare = { metadata: { name: 'vol', namespace: 'longhorn-system' } };
    await expect(writer.replaceStatus(bare, {})).rejects.toThrow(/without a resourceVersion/);
    await expect(writer.patchStatus(bare, {})).rejects.toThrow(/without a resourceVersion/);
    expect(calls).toHaveLength(0);
  });
});
