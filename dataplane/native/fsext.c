// The few Linux file syscalls Node does not expose: lseek(SEEK_DATA/SEEK_HOLE) to rebuild a
// layer's extent index from the file system, and fallocate(PUNCH_HOLE) to really free space on
// trim and purge; plus flock so one replica directory is never opened twice. Synchronous on purpose: each call is a metadata-only syscall (microseconds).
// And preadv2(RWF_NOWAIT): a read served from the page cache without libuv's thread pool.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/uio.h>
#include <unistd.h>
#include <node_api.h>
#include "napi-util.h"

// seek(fd, offset, whence): the next data (whence 0) or hole (whence 1) at or after offset;
// -1 when there is no more data (ENXIO).
static napi_value do_seek(napi_env env, napi_callback_info info, int whence) {
  int64_t a[2];
  if (!read_int_args(env, info, 2, a)) return NULL;
  off_t r = lseek((int)a[0], (off_t)a[1], whence);
  if (r < 0) {
    if (errno == ENXIO) r = -1;
    else return throw_errno(env, whence == SEEK_DATA ? "lseek(SEEK_DATA)" : "lseek(SEEK_HOLE)", errno);
  }
  napi_value result;
  napi_create_int64(env, (int64_t)r, &result);
  return result;
}

static napi_value seek_data(napi_env env, napi_callback_info info) { return do_seek(env, info, SEEK_DATA); }
static napi_value seek_hole(napi_env env, napi_callback_info info) { return do_seek(env, info, SEEK_HOLE); }

static napi_value punch_hole(napi_env env, napi_callback_info info) {
  int64_t a[3];
  if (!read_int_args(env, info, 3, a)) return NULL;
  if (fallocate((int)a[0], FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)a[1], (off_t)a[2]) != 0)
    return throw_errno(env, "fallocate(PUNCH_HOLE)", errno);
  return NULL;
}

// tryLock(fd): an exclusive, non-blocking flock; false when another open file holds it. The
// kernel drops it when the process dies, so a SIGKILLed replica server never leaves it behind.
static napi_value try_lock(napi_env env, napi_callback_info info) {
  int64_t a[1];
  if (!read_int_args(env, info, 1, a)) return NULL;
  napi_value result;
  if (flock((int)a[0], LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return throw_errno(env, "flock", errno);
    napi_get_boolean(env, false, &result);
    return result;
  }
  napi_get_boolean(env, true, &result);
  return result;
}

// preadNoWait(fd, buffer, offset, length, position): preadv2 with RWF_NOWAIT, which reads only
// what the page cache holds and never waits for the disk. Returns the bytes read (possibly
// short), or -1 when nothing could be read without blocking (EAGAIN) or the kernel lacks
// RWF_NOWAIT (EOPNOTSUPP): the caller then reads through libuv's thread pool. A cached 4 KiB
// read costs a few microseconds this way instead of a thread-pool round trip (two wake-ups).
static napi_value pread_nowait(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv)) return NULL;
  void *data;
  size_t size;
  if (napi_get_buffer_info(env, argv[1], &data, &size) != napi_ok) {
    napi_throw_type_error(env, NULL, "buffer must be a Buffer");
    return NULL;
  }
  int64_t fd, a[3];
  if (!int_args(env, argv, 0, 1, &fd) || !int_args(env, argv, 2, 5, a)) return NULL;
  int64_t offset = a[0], length = a[1], position = a[2];
  if (offset < 0 || length < 0 || (uint64_t)(offset + length) > size) {
    napi_throw_range_error(env, NULL, "range outside the buffer");
    return NULL;
  }
  struct iovec iov = {(char *)data + offset, (size_t)length};
  ssize_t n = preadv2((int)fd, &iov, 1, (off_t)position, RWF_NOWAIT);
  if (n < 0) {
    if (errno == EAGAIN || errno == EOPNOTSUPP || errno == ENOSYS) n = -1;
    else return throw_errno(env, "preadv2", errno);
  }
  napi_value result;
  napi_create_int64(env, (int64_t)n, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"seekData", NULL, seek_data, NULL, NULL, NULL, napi_default, NULL},
      {"seekHole", NULL, seek_hole, NULL, NULL, NULL, napi_default, NULL},
      {"punchHole", NULL, punch_hole, NULL, NULL, NULL, napi_default, NULL},
      {"tryLock", NULL, try_lock, NULL, NULL, NULL, napi_default, NULL},
      {"preadNoWait", NULL, pread_nowait, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
