import { describe, expect, it } from 'vitest';
import { BlockError } from '../../src/block/block-error.js';
import { ERROR_CODES, errorCodeOf } from '../../src/block/error-codes.js';
import { isRequestError } from '../../src/engine/request-errors.js';
import { NBD_EINVAL, NBD_EIO, NBD_ENOSPC, NBD_ESHUTDOWN } from '../../src/frontend/nbd/constants.js';
import { nbdErrnoOf } from '../../src/frontend/nbd/errno.js';
import { errorFromWire, errorToWire } from '../../src/protocol/remote-error.js';
import { ReplicaError } from '../../src/replica/errors.js';
import { grpc, toGrpcError } from '../../src/rpc/grpc-proto.js';

const coded = (code: string) => Object.assign(new Error(`${code}: x`), { code });

describe('the one error-code union and its edges', () => {
  it.each([
    ['EIO', NBD_EIO, grpc.status.UNAVAILABLE, false],
    ['EINVAL', NBD_EINVAL, grpc.status.INVALID_ARGUMENT, true],
    ['ENOSPC', NBD_ENOSPC, grpc.status.RESOURCE_EXHAUSTED, false],
    ['SNAPSHOT_NOT_FOUND', NBD_EINVAL, grpc.status.NOT_FOUND, true],
    ['SNAPSHOT_EXISTS', NBD_EINVAL, grpc.status.ALREADY_EXISTS, true],
    ['OUT_OF_RANGE', NBD_EINVAL, grpc.status.OUT_OF_RANGE, true],
    ['CORRUPT_METADATA', NBD_EIO, grpc.status.DATA_LOSS, false],
    ['CLOSED', NBD_ESHUTDOWN, grpc.status.UNAVAILABLE, false],
    ['NOT_FOUND', NBD_EINVAL, grpc.status.NOT_FOUND, false],
  ] as const)('%s: NBD errno %i, gRPC status %i, request error %s', (code, errno, status, request) => {
    expect(nbdErrnoOf(coded(code))).toBe(errno);
    expect(toGrpcError(coded(code)).code).toBe(status);
    expect(isRequestError(coded(code))).toBe(request);
  });

  it('maps every code at every edge, and unknown codes safely', () => {
    for (const code of ERROR_CODES) {
      expect(typeof nbdErrnoOf(coded(code))).toBe('number');
      expect(toGrpcError(coded(code)).code).not.toBe(grpc.status.INTERNAL);
    }
    expect(nbdErrnoOf(coded('SOMETHING_NEW'))).toBe(NBD_EIO);
    expect(toGrpcError(coded('SOMETHING_NEW')).code).toBe(grpc.status.INTERNAL);
    expect(toGrpcError(new Error('plain')).code).toBe(grpc.status.INTERNAL);
    expect(isRequestError(coded('SOMETHING_NEW'))).toBe(false);
  });

  it('keeps the code across the replica wire, known or not', () => {
    const store = new ReplicaError('SNAPSHOT_NOT_FOUND', 'no snapshot s1');
    const { code, message } = errorToWire(store);
    const back = errorFromWire(code, message);
    expect(errorCodeOf(back)).toBe('SNAPSHOT_NOT_FOUND');
    expect(errorFromWire('EINVAL', 'bad')).toBeInstanceOf(BlockError);
    expect(errorFromWire('FROM_A_NEWER_SERVER', 'x').code).toBe('FROM_A_NEWER_SERVER');
  });

  it('carries the code beside the gRPC status', () => {
    const err = toGrpcError(new BlockError('EPERM', 'stop the frontend first'));
    expect(err.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(err.metadata.get('x-longhorn-code')).toEqual(['EPERM']);
  });
});
