import {
  parseRotationResult,
  pendingRotation,
  KEK_ROTATION_REQUEST_ANNOTATION as REQ,
  KEK_ROTATION_RESULT_ANNOTATION as RES,
} from '@longhorn-ts/api';
import { describe, expect, it } from 'vitest';

const result = (request: string) =>
  JSON.stringify({ request, from: 'kek-a', to: 'kek-b', error: '', doneAt: '2026-01-01T00:00:00Z' });

describe('KEK rotation requests', () => {
  it.each([
    ['no annotations', undefined, undefined],
    ['no request', { [RES]: result('1') }, undefined],
    ['an empty request', { [REQ]: ' ' }, undefined],
    ['a new request', { [REQ]: '1' }, '1'],
    ['a request answered', { [REQ]: '1', [RES]: result('1') }, undefined],
    ['a request after an older answer', { [REQ]: '2', [RES]: result('1') }, '2'],
    ['a request and a malformed answer', { [REQ]: '2', [RES]: '{' }, '2'],
  ])('%s', (_, annotations, want) => {
    expect(pendingRotation(annotations)).toBe(want);
  });

  it('reads results back', () => {
    expect(parseRotationResult(result('7'))).toMatchObject({ request: '7', from: 'kek-a', to: 'kek-b' });
    expect(parseRotationResult('[]')).toBeUndefined();
    expect(parseRotationResult(undefined)).toBeUndefined();
  });
});
