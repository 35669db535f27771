import { describe, expect, it } from 'vitest';
import {
  parseRevertRequest,
  parseRevertResult,
  SNAPSHOT_REVERT_REQUEST_ANNOTATION,
  SNAPSHOT_REVERT_RESULT_ANNOTATION,
} from '../src/snapshot-revert.js';

const req = (v: string) => ({ [SNAPSHOT_REVERT_REQUEST_ANNOTATION]: v });
const res = (v: string) => ({ [SNAPSHOT_REVERT_RESULT_ANNOTATION]: v });

describe('snapshot revert annotations', () => {
  it('reads a request; anything malformed is no request', () => {
    expect(parseRevertRequest(req('{"id":"a1","snapshot":"s1"}'))).toEqual({ id: 'a1', snapshot: 's1' });
    for (const bad of [
      '',
      'nope',
      '[]',
      'null',
      '{"id":"a1"}',
      '{"id":"","snapshot":"s1"}',
      '{"id":1,"snapshot":"s1"}',
    ]) {
      expect(parseRevertRequest(req(bad)), bad).toBeUndefined();
    }
    expect(parseRevertRequest(undefined)).toBeUndefined();
    expect(parseRevertRequest({})).toBeUndefined();
  });

  it('reads a result, error and time defaulting to empty', () => {
    expect(parseRevertResult(res('{"id":"a1","snapshot":"s1","error":"no","doneAt":"t"}'))).toEqual({
      id: 'a1',
      snapshot: 's1',
      error: 'no',
      doneAt: 't',
    });
    expect(parseRevertResult(res('{"id":"a1","snapshot":"s1"}'))).toEqual({
      id: 'a1',
      snapshot: 's1',
      error: '',
      doneAt: '',
    });
    expect(parseRevertResult(res('{"snapshot":"s1"}'))).toBeUndefined();
    expect(parseRevertResult(res('{'))).toBeUndefined();
  });
});
