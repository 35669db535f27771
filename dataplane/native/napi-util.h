// Argument and error helpers shared by the addons (fsext.c, zerocopy.c): each is one C file
// built on its own, so these are static inline, one copy per addon.
#ifndef LONGHORN_NAPI_UTIL_H
#define LONGHORN_NAPI_UTIL_H
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <node_api.h>

// Throws an Error "<syscall>: <strerror>" with `errno` and `syscall` properties; returns NULL
// for the caller to return.
static inline napi_value throw_errno(napi_env env, const char *syscall, int err) {
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

// The call's first `want` arguments into argv (which holds at least `want`); 0 after throwing
// a TypeError when fewer were given.
static inline int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < want) {
    napi_throw_type_error(env, NULL, "missing arguments");
    return 0;
  }
  return 1;
}

// argv[from..to) as integers into out[0..to-from); 0 after throwing a TypeError.
static inline int int_args(napi_env env, napi_value *argv, size_t from, size_t to, int64_t *out) {
  for (size_t i = from; i < to; i++) {
    if (napi_get_value_int64(env, argv[i], &out[i - from]) != napi_ok) {
      napi_throw_type_error(env, NULL, "arguments must be numbers");
      return 0;
    }
  }
  return 1;
}

// The call's first `want` arguments as integers (want <= 8); 0 after throwing.
static inline int read_int_args(napi_env env, napi_callback_info info, size_t want, int64_t *out) {
  napi_value argv[8];
  return get_args(env, info, want, argv) && int_args(env, argv, 0, want, out);
}
#endif
