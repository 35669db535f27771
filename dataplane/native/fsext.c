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

static napi_value throw_errno(napi_env env, const char *syscall, int err) {
  char msg[128];
  snprintf(msg, sizeof msg, "%s: %s", syscall, strerror(err));
  napi_value text, error, errno_value, syscall_value;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, NULL, text, &error);
  napi_create_int32(env, err, &errno_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value);
  napi_set_named_property(env, error, "syscall", syscall_value);
  napi_throw(env, error);
  return NULL;
}

static int read_args(napi_env env, napi_callback_info info, size_t want, int64_t *out) {
  napi_value argv[3];
  size_t argc = 3;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < want) {
    napi_throw_type_error(env, NULL, "missing arguments");
    return 0;
  }
  for (size_t i = 0; i < want; i++) {
    if (napi_get_value_int64(env, argv[i], &out[i]) != napi_ok) {
      napi_throw_type_error(env, NULL, "arguments must be numbers");
      return 0;
    }
  }
  return 1;
}

// seek(fd, offset, whence): the next data (whence 0) or hole (whence 1) at or after offset;
// -1 when there is no more data (ENXIO).
static napi_value do_seek(napi_env env, napi_callback_info info, int whence) {
  int64_t a[2];
  if (!read_args(env, info, 2, a)) return NULL;
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
  if (!read_args(env, info, 3, a)) return NULL;
  if (fallocate((int)a[0], FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)a[1], (off_t)a[2]) != 0)
    return throw_errno(env, "fallocate(PUNCH_HOLE)", errno);
  return NULL;
}

// tryLock(fd): an exclusive, non-blocking flock; false when another open file holds it. The
// kernel drops it when the process dies, so a SIGKILLed replica server never leaves it behind.
static napi_value try_lock(napi_env env, napi_callback_info info) {
  int64_t a[1];
  if (!read_args(env, info, 1, a)) return NULL;
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
  size_t argc = 5;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) {
    napi_throw_type_error(env, NULL, "missing arguments");
    return NULL;
  }
  void *data;
  size_t size;
  if (napi_get_buffer_info(env, argv[1], &data, &size) != napi_ok) {
    napi_throw_type_error(env, NULL, "buffer must be a Buffer");
    return NULL;
  }
  int64_t fd, offset, length, position;
  if (napi_get_value_int64(env, argv[0], &fd) != napi_ok || napi_get_value_int64(env, argv[2], &offset) != napi_ok ||
      napi_get_value_int64(env, argv[3], &length) != napi_ok ||
      napi_get_value_int64(env, argv[4], &position) != napi_ok) {
    napi_throw_type_error(env, NULL, "arguments must be numbers");
    return NULL;
  }
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
