// Zero-copy NBD read replies: the reply header, then bytes of a layer file sent by sendfile(2)
// straight from the page cache to the client's socket, so the engine never copies them into a
// Buffer and out again (for TCP the kernel only takes references to the cached pages).
//
// Everything here runs on the event loop and never blocks: sendSpan sends what the socket takes
// now, whenWritable waits (a uv_poll on a dup of the socket, beside libuv's own watcher) until
// it takes more, and allCached (cachestat(2)) says beforehand whether sendfile would have to
// wait for the disk, which would stall the loop.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>
#include "napi-util.h"

#ifndef __NR_cachestat
#define __NR_cachestat 451
#endif

struct span_cachestat_range {
  uint64_t off;
  uint64_t len;
};

struct span_cachestat {
  uint64_t nr_cache;
  uint64_t nr_dirty;
  uint64_t nr_writeback;
  uint64_t nr_evicted;
  uint64_t nr_recently_evicted;
};

// allCached(fd, position, length): true when every page of the range is in the page cache, so
// sendfile will not wait for the disk; false when some is not, or the kernel lacks cachestat.
static napi_value all_cached(napi_env env, napi_callback_info info) {
  int64_t a[3];
  if (!read_int_args(env, info, 3, a)) return NULL;
  long page = sysconf(_SC_PAGESIZE);
  uint64_t first = (uint64_t)a[1] / page;
  uint64_t last = ((uint64_t)a[1] + (uint64_t)a[2] + page - 1) / page;
  struct span_cachestat_range range = {first * page, (last - first) * page};
  struct span_cachestat cs;
  memset(&cs, 0, sizeof cs);
  int ok = syscall(__NR_cachestat, (int)a[0], &range, &cs, 0) == 0 && cs.nr_cache >= last - first;
  napi_value result;
  napi_get_boolean(env, ok, &result);
  return result;
}

// dupFd(fd): a close-on-exec duplicate, so a span queued behind a full socket still reads the
// same file after its layer is closed (purge, revert).
static napi_value dup_fd(napi_env env, napi_callback_info info) {
  int64_t fd;
  if (!read_int_args(env, info, 1, &fd)) return NULL;
  int d = fcntl((int)fd, F_DUPFD_CLOEXEC, 0);
  if (d < 0) return throw_errno(env, "fcntl(F_DUPFD_CLOEXEC)", errno);
  napi_value result;
  napi_create_int32(env, d, &result);
  return result;
}

// sendSpan(socketFd, header, fileFd, position, length, sent): sends the header then `length`
// bytes of the file at `position`, resuming after the first `sent` bytes of that whole, as far
// as the socket takes them without waiting. Returns the new `sent` (header.length + length
// once complete). Throws on a socket or file error, and when the file ends early.
static napi_value send_span(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!get_args(env, info, 6, argv)) return NULL;
  void *header;
  size_t header_len;
  if (napi_get_buffer_info(env, argv[1], &header, &header_len) != napi_ok) {
    napi_throw_type_error(env, NULL, "header must be a Buffer");
    return NULL;
  }
  int64_t sock, a[4];
  if (!int_args(env, argv, 0, 1, &sock) || !int_args(env, argv, 2, 6, a)) return NULL;
  int file = (int)a[0];
  int64_t position = a[1], length = a[2], sent = a[3];
  if (position < 0 || length < 0 || sent < 0 || sent > (int64_t)header_len + length) {
    napi_throw_range_error(env, NULL, "span outside the file or the reply");
    return NULL;
  }
  while (sent < (int64_t)header_len) {
    ssize_t n = send((int)sock, (char *)header + sent, header_len - sent, MSG_DONTWAIT | MSG_NOSIGNAL | MSG_MORE);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) goto done;
      return throw_errno(env, "send", errno);
    }
    sent += n;
  }
  while (sent < (int64_t)header_len + length) {
    int64_t done_bytes = sent - (int64_t)header_len;
    off_t off = (off_t)(position + done_bytes);
    size_t want = (size_t)(length - done_bytes);
    ssize_t n = sendfile((int)sock, file, &off, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return throw_errno(env, "sendfile", errno);
    }
    if (n == 0) return throw_errno(env, "sendfile (file ends before the span)", EIO);
    sent += n;
  }
done:;
  napi_value result;
  napi_create_int64(env, sent, &result);
  return result;
}

// whenWritable(socketFd, callback): calls callback(error | null) once the socket can take more
// bytes (or has failed: the next send reports how). Returns a handle for cancelWait.
typedef struct {
  uv_poll_t poll;
  int fd;
  int closing;
  napi_env env;
  napi_ref callback;
  napi_async_context context;
  int status;
  int fire;
} wait_t;

static void wait_closed(uv_handle_t *handle) {
  wait_t *w = (wait_t *)handle->data;
  close(w->fd);
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  if (w->fire) {
    napi_value cb, recv, arg;
    napi_get_reference_value(env, w->callback, &cb);
    napi_get_global(env, &recv);
    if (w->status < 0) {
      napi_value msg;
      napi_create_string_utf8(env, uv_strerror(w->status), NAPI_AUTO_LENGTH, &msg);
      napi_create_error(env, NULL, msg, &arg);
    } else {
      napi_get_null(env, &arg);
    }
    if (napi_make_callback(env, w->context, recv, cb, 1, &arg, NULL) == napi_pending_exception) {
      // Thrown by the callback: an uncaught exception, as from any other I/O callback.
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
  }
  napi_delete_reference(env, w->callback);
  napi_async_destroy(env, w->context);
  napi_close_handle_scope(env, scope);
  free(w);
}

static void finish_wait(wait_t *w, int status, int fire) {
  if (w->closing) return;
  w->closing = 1;
  w->status = status;
  w->fire = fire;
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, wait_closed);
}

static void on_writable(uv_poll_t *poll, int status, int events) {
  (void)events;
  finish_wait((wait_t *)poll->data, status, 1);
}

static napi_value when_writable(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = 2;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int64_t sock;
  napi_valuetype type;
  if (argc < 2 || napi_get_value_int64(env, argv[0], &sock) != napi_ok ||
      napi_typeof(env, argv[1], &type) != napi_ok || type != napi_function) {
    napi_throw_type_error(env, NULL, "whenWritable(socketFd, callback)");
    return NULL;
  }
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    napi_throw_error(env, NULL, "no event loop");
    return NULL;
  }
  wait_t *w = calloc(1, sizeof *w);
  if (!w) return throw_errno(env, "calloc", ENOMEM);
  // A duplicate: libuv watches the socket itself for reads, and one loop cannot hold two
  // watchers of one descriptor.
  w->fd = fcntl((int)sock, F_DUPFD_CLOEXEC, 0);
  if (w->fd < 0) {
    int err = errno;
    free(w);
    return throw_errno(env, "fcntl(F_DUPFD_CLOEXEC)", err);
  }
  int rc = uv_poll_init(loop, &w->poll, w->fd);
  if (rc != 0) {
    close(w->fd);
    free(w);
    napi_throw_error(env, NULL, uv_strerror(rc));
    return NULL;
  }
  w->poll.data = w;
  w->env = env;
  napi_value name;
  napi_create_string_utf8(env, "nbd:whenWritable", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &w->context);
  napi_create_reference(env, argv[1], 1, &w->callback);
  rc = uv_poll_start(&w->poll, UV_WRITABLE | UV_DISCONNECT, on_writable);
  if (rc != 0) {
    // Still a handle: it must be closed, and the callback reports the failure.
    finish_wait(w, rc, 1);
  }
  napi_value handle;
  napi_create_external(env, w, NULL, NULL, &handle);
  return handle;
}

// cancelWait(handle): stops a wait without calling its callback, unless it already fired (then
// the callback still comes). The handle must not be used once its callback has run.
static napi_value cancel_wait(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *data;
  if (argc < 1 || napi_get_value_external(env, argv[0], &data) != napi_ok) {
    napi_throw_type_error(env, NULL, "cancelWait(handle)");
    return NULL;
  }
  finish_wait((wait_t *)data, 0, 0);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"allCached", NULL, all_cached, NULL, NULL, NULL, napi_default, NULL},
      {"dupFd", NULL, dup_fd, NULL, NULL, NULL, napi_default, NULL},
      {"sendSpan", NULL, send_span, NULL, NULL, NULL, napi_default, NULL},
      {"whenWritable", NULL, when_writable, NULL, NULL, NULL, napi_default, NULL},
      {"cancelWait", NULL, cancel_wait, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
