// AES-256-XTS over whole 4 KiB blocks, in place, the block number as each block's tweak.
// Node's bundled OpenSSL here runs AES without AES-NI (~0.5 GB/s a core, measured), so this
// does it natively, one of two ways:
// - "vaes": where the CPU has AVX-512 with VAES and VPCLMULQDQ, our own XTS over the AES round
//   instructions, 16 cipher blocks (4 per zmm register) at a time, the tweaks stepped by
//   carry-less multiplication. The key schedule is made once per key and only read afterwards,
//   so any thread may use it: no context to copy or re-set per block or per request. ~3x
//   libcrypto 3.0's AES-NI XTS, which works one 128-bit lane at a time (CPU per MiB measured
//   here: ~55 us against ~155 us).
// - "libcrypto": the system's libcrypto.so.3 (opened RTLD_LOCAL | RTLD_DEEPBIND so its symbols
//   never mix with the copy of OpenSSL linked into node; it has AES-NI, ~7 GB/s), one cipher
//   context per direction and key, a block only re-setting the IV.
// Both give the bytes OpenSSL's aes-256-xts gives (the unit tests hold them equal). Large
// requests run on libuv's thread pool (runAsync), so the event loop keeps serving meanwhile.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <node_api.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define HAVE_VAES_PATH 1
#endif

typedef void EVP_CIPHER_CTX;
typedef void EVP_CIPHER;
static EVP_CIPHER_CTX *(*ctx_new)(void);
static void (*ctx_free)(EVP_CIPHER_CTX *);
static int (*ctx_copy)(EVP_CIPHER_CTX *, const EVP_CIPHER_CTX *);
static int (*cipher_init)(EVP_CIPHER_CTX *, const EVP_CIPHER *, void *, const unsigned char *,
                          const unsigned char *, int);
static int (*cipher_update)(EVP_CIPHER_CTX *, unsigned char *, int *, const unsigned char *, int);
static const EVP_CIPHER *(*aes_256_xts)(void);
static const char *load_error = NULL;

#define BLOCK 4096

typedef struct {
  EVP_CIPHER_CTX *enc;
  EVP_CIPHER_CTX *dec;
#ifdef HAVE_VAES_PATH
  // Set: the vaes path, with these round keys (data key: encryption and decryption; tweak key).
  bool vaes;
  __m128i k1[15];
  __m128i k1dec[15];
  __m128i k2[15];
#endif
} Xts;

#ifdef HAVE_VAES_PATH
static bool cpu_has_vaes(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("aes") && __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("vaes") && __builtin_cpu_supports("vpclmulqdq");
}

// The AES-256 key schedule with AESKEYGENASSIST (as in Intel's AES-NI white paper).
__attribute__((target("aes,sse2"))) static __m128i expand_a(__m128i a, __m128i assist) {
  assist = _mm_shuffle_epi32(assist, 0xff);
  a = _mm_xor_si128(a, _mm_slli_si128(a, 4));
  a = _mm_xor_si128(a, _mm_slli_si128(a, 4));
  a = _mm_xor_si128(a, _mm_slli_si128(a, 4));
  return _mm_xor_si128(a, assist);
}

__attribute__((target("aes,sse2"))) static __m128i expand_b(__m128i a, __m128i b) {
  __m128i assist = _mm_shuffle_epi32(_mm_aeskeygenassist_si128(a, 0), 0xaa);
  b = _mm_xor_si128(b, _mm_slli_si128(b, 4));
  b = _mm_xor_si128(b, _mm_slli_si128(b, 4));
  b = _mm_xor_si128(b, _mm_slli_si128(b, 4));
  return _mm_xor_si128(b, assist);
}

#define EXPAND_STEP(i, rcon)                                        \
  a = expand_a(a, _mm_aeskeygenassist_si128(b, rcon));              \
  rk[i] = a;                                                        \
  if ((i) + 1 < 15) {                                               \
    b = expand_b(a, b);                                             \
    rk[(i) + 1] = b;                                                \
  }

__attribute__((target("aes,sse2"))) static void aes256_schedule(const unsigned char *key, __m128i rk[15]) {
  __m128i a = _mm_loadu_si128((const __m128i *)key);
  __m128i b = _mm_loadu_si128((const __m128i *)(key + 16));
  rk[0] = a;
  rk[1] = b;
  EXPAND_STEP(2, 0x01)
  EXPAND_STEP(4, 0x02)
  EXPAND_STEP(6, 0x04)
  EXPAND_STEP(8, 0x08)
  EXPAND_STEP(10, 0x10)
  EXPAND_STEP(12, 0x20)
  EXPAND_STEP(14, 0x40)
}

// The equivalent inverse cipher's schedule (FIPS 197 5.3.5), for AESDEC.
__attribute__((target("aes,sse2"))) static void aes256_inverse(const __m128i rk[15], __m128i dk[15]) {
  dk[0] = rk[14];
  for (int i = 1; i < 14; i++) dk[i] = _mm_aesimc_si128(rk[14 - i]);
  dk[14] = rk[0];
}

#define VAES_TARGET __attribute__((target("aes,avx512f,vaes,vpclmulqdq")))

// Each 128-bit lane of `t` (a little-endian tweak) times alpha^k in GF(2^128), k < 64 per
// 64-bit half as given by `left` (k) and `right` (64 - k): shift left by k and fold the k bits
// shifted out of the top back in as their product with x^7 + x^2 + x + 1 (0x87), which for
// k <= 56 needs no further reduction.
VAES_TARGET static inline __m512i mul_alpha_v(__m512i t, __m512i left, __m512i right) {
  __m512i out = _mm512_sllv_epi64(t, left);
  __m512i carry = _mm512_srlv_epi64(t, right);
  // Low half's bits move into the high half; the high half's are reduced into the low half.
  out = _mm512_xor_si512(out, _mm512_unpacklo_epi64(_mm512_setzero_si512(), carry));
  return _mm512_xor_si512(out, _mm512_clmulepi64_epi128(carry, _mm512_set1_epi64(0x87), 0x01));
}

VAES_TARGET static inline __m512i mul_alpha16(__m512i t) {
  __m512i out = _mm512_slli_epi64(t, 16);
  __m512i carry = _mm512_srli_epi64(t, 48);
  out = _mm512_xor_si512(out, _mm512_unpacklo_epi64(_mm512_setzero_si512(), carry));
  return _mm512_xor_si512(out, _mm512_clmulepi64_epi128(carry, _mm512_set1_epi64(0x87), 0x01));
}

#define ROUND4(op, k)               \
  x0 = op(x0, k);                   \
  x1 = op(x1, k);                   \
  x2 = op(x2, k);                   \
  x3 = op(x3, k);

// One direction over `len` bytes (whole 4 KiB units) from unit number `first`.
#define XTS_VAES_BODY(ROUND, LAST, keys)                                                        \
  __m512i rk[15];                                                                                 \
  for (int r = 0; r < 15; r++) rk[r] = _mm512_broadcast_i32x4(keys[r]);                           \
  const __m512i left = _mm512_set_epi64(3, 3, 2, 2, 1, 1, 0, 0);                                  \
  const __m512i right = _mm512_set_epi64(61, 61, 62, 62, 63, 63, 64, 64);                         \
  for (size_t off = 0; off < len; off += BLOCK) {                                                 \
    uint64_t n = first + off / BLOCK;                                                             \
    __m128i t = _mm_xor_si128(_mm_set_epi64x(0, (long long)n), x->k2[0]);                         \
    for (int r = 1; r < 14; r++) t = _mm_aesenc_si128(t, x->k2[r]);                               \
    t = _mm_aesenclast_si128(t, x->k2[14]);                                                       \
    /* Lanes hold the tweaks of cipher blocks j, j+1, j+2, j+3 (t0), j+4.. (t1), and so on. */   \
    __m512i t0 = mul_alpha_v(_mm512_broadcast_i32x4(t), left, right);                             \
    const __m512i four = _mm512_set1_epi64(4), sixty = _mm512_set1_epi64(60);                     \
    __m512i t1 = mul_alpha_v(t0, four, sixty);                                                    \
    __m512i t2 = mul_alpha_v(t1, four, sixty);                                                    \
    __m512i t3 = mul_alpha_v(t2, four, sixty);                                                    \
    unsigned char *p = data + off;                                                                \
    for (int j = 0; j < BLOCK; j += 256, p += 256) {                                              \
      __m512i x0 = _mm512_xor_si512(_mm512_loadu_si512(p), t0);                                   \
      __m512i x1 = _mm512_xor_si512(_mm512_loadu_si512(p + 64), t1);                              \
      __m512i x2 = _mm512_xor_si512(_mm512_loadu_si512(p + 128), t2);                             \
      __m512i x3 = _mm512_xor_si512(_mm512_loadu_si512(p + 192), t3);                             \
      ROUND4(_mm512_xor_si512, rk[0])                                                             \
      for (int r = 1; r < 14; r++) {                                                              \
        ROUND4(ROUND, rk[r])                                                                      \
      }                                                                                           \
      ROUND4(LAST, rk[14])                                                                        \
      _mm512_storeu_si512(p, _mm512_xor_si512(x0, t0));                                           \
      _mm512_storeu_si512(p + 64, _mm512_xor_si512(x1, t1));                                      \
      _mm512_storeu_si512(p + 128, _mm512_xor_si512(x2, t2));                                     \
      _mm512_storeu_si512(p + 192, _mm512_xor_si512(x3, t3));                                     \
      t0 = mul_alpha16(t0);                                                                       \
      t1 = mul_alpha16(t1);                                                                       \
      t2 = mul_alpha16(t2);                                                                       \
      t3 = mul_alpha16(t3);                                                                       \
    }                                                                                             \
  }

VAES_TARGET static void xts_encrypt_vaes(const Xts *x, unsigned char *data, size_t len, uint64_t first) {
  XTS_VAES_BODY(_mm512_aesenc_epi128, _mm512_aesenclast_epi128, x->k1)
}

VAES_TARGET static void xts_decrypt_vaes(const Xts *x, unsigned char *data, size_t len, uint64_t first) {
  XTS_VAES_BODY(_mm512_aesdec_epi128, _mm512_aesdeclast_epi128, x->k1dec)
}
#endif

static int load_libcrypto(void) {
  if (aes_256_xts) return 1;
  if (load_error) return 0;
  void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  if (!h) {
    load_error = "cannot open libcrypto.so.3";
    return 0;
  }
  ctx_new = (EVP_CIPHER_CTX * (*)(void)) dlsym(h, "EVP_CIPHER_CTX_new");
  ctx_free = (void (*)(EVP_CIPHER_CTX *))dlsym(h, "EVP_CIPHER_CTX_free");
  ctx_copy = (int (*)(EVP_CIPHER_CTX *, const EVP_CIPHER_CTX *))dlsym(h, "EVP_CIPHER_CTX_copy");
  cipher_init = (int (*)(EVP_CIPHER_CTX *, const EVP_CIPHER *, void *, const unsigned char *,
                         const unsigned char *, int))dlsym(h, "EVP_CipherInit_ex");
  cipher_update = (int (*)(EVP_CIPHER_CTX *, unsigned char *, int *, const unsigned char *, int))dlsym(
      h, "EVP_CipherUpdate");
  const EVP_CIPHER *(*xts)(void) = (const EVP_CIPHER *(*)(void))dlsym(h, "EVP_aes_256_xts");
  if (!ctx_new || !ctx_free || !ctx_copy || !cipher_init || !cipher_update || !xts) {
    load_error = "libcrypto.so.3 lacks the EVP functions needed";
    return 0;
  }
  aes_256_xts = xts;
  return 1;
}

static napi_value fail(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Xts *x = data;
  if (x->enc) ctx_free(x->enc);
  if (x->dec) ctx_free(x->dec);
  explicit_bzero(x, sizeof *x);
  free(x);
}

// create(key: Buffer of 64 bytes, engine?: "libcrypto") -> handle. The vaes path where the CPU
// has it, unless "libcrypto" is asked for (the tests compare the two).
static napi_value create(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = 2;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *key;
  size_t len;
  if (argc < 1 || napi_get_buffer_info(env, argv[0], &key, &len) != napi_ok || len != 64)
    return fail(env, "xts: the key must be a 64-byte Buffer");
  if (memcmp(key, (char *)key + 32, 32) == 0) return fail(env, "xts: key halves must differ");
  bool want_libcrypto = false;
  napi_valuetype type = napi_undefined;
  if (argc >= 2 && napi_typeof(env, argv[1], &type) == napi_ok && type == napi_string) {
    char name[16];
    size_t n = 0;
    napi_get_value_string_utf8(env, argv[1], name, sizeof name, &n);
    if (strcmp(name, "libcrypto") != 0) return fail(env, "xts: the engine asked for is not \"libcrypto\"");
    want_libcrypto = true;
  }
  Xts *x = calloc(1, sizeof *x);
  if (!x) return fail(env, "xts: out of memory");
#ifdef HAVE_VAES_PATH
  if (!want_libcrypto && cpu_has_vaes()) {
    x->vaes = true;
    aes256_schedule(key, x->k1);
    aes256_inverse(x->k1, x->k1dec);
    aes256_schedule((const unsigned char *)key + 32, x->k2);
    napi_value handle;
    napi_create_external(env, x, finalize, NULL, &handle);
    return handle;
  }
#endif
  if (!load_libcrypto()) {
    free(x);
    return fail(env, load_error);
  }
  x->enc = ctx_new();
  x->dec = ctx_new();
  if (!x->enc || !x->dec || !cipher_init(x->enc, aes_256_xts(), NULL, key, NULL, 1) ||
      !cipher_init(x->dec, aes_256_xts(), NULL, key, NULL, 0)) {
    finalize(env, x, NULL);
    return fail(env, "xts: libcrypto refused the key");
  }
  napi_value handle;
  napi_create_external(env, x, finalize, NULL, &handle);
  return handle;
}

// engine(handle) -> "vaes" | "libcrypto"
static napi_value engine(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Xts *x;
  if (argc < 1 || napi_get_value_external(env, argv[0], (void **)&x) != napi_ok)
    return fail(env, "xts: engine(handle)");
  const char *name = "libcrypto";
#ifdef HAVE_VAES_PATH
  if (x->vaes) name = "vaes";
#endif
  napi_value out;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &out);
  return out;
}

static int libcrypto_blocks(EVP_CIPHER_CTX *ctx, bool encrypt, unsigned char *data, size_t len,
                            uint64_t first) {
  unsigned char iv[16];
  for (size_t off = 0; off < len; off += BLOCK) {
    uint64_t n = first + off / BLOCK;
    memset(iv, 0, sizeof iv);
    for (int i = 0; i < 8; i++) iv[i] = (unsigned char)(n >> (8 * i));
    int outl = 0;
    if (!cipher_init(ctx, NULL, NULL, NULL, iv, encrypt ? 1 : 0) ||
        !cipher_update(ctx, data + off, &outl, data + off, BLOCK) || outl != BLOCK)
      return 0;
  }
  return 1;
}

// `ctx`: the libcrypto context to use (the handle's own, or a copy on the thread pool); unused
// on the vaes path, whose key schedule is only read.
static int crypt_blocks(const Xts *x, EVP_CIPHER_CTX *ctx, bool encrypt, unsigned char *data, size_t len,
                        uint64_t first) {
#ifdef HAVE_VAES_PATH
  if (x->vaes) {
    if (encrypt) xts_encrypt_vaes(x, data, len, first);
    else xts_decrypt_vaes(x, data, len, first);
    return 1;
  }
#endif
  (void)x;
  return libcrypto_blocks(ctx, encrypt, data, len, first);
}

// run(handle, encrypt: boolean, data: Buffer (whole 4 KiB blocks), firstBlock: number): in place
static napi_value run(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  size_t argc = 4;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Xts *x;
  bool encrypt;
  unsigned char *data;
  size_t len;
  int64_t first;
  if (argc < 4 || napi_get_value_external(env, argv[0], (void **)&x) != napi_ok ||
      napi_get_value_bool(env, argv[1], &encrypt) != napi_ok ||
      napi_get_buffer_info(env, argv[2], (void **)&data, &len) != napi_ok ||
      napi_get_value_int64(env, argv[3], &first) != napi_ok || first < 0)
    return fail(env, "xts: run(handle, encrypt, buffer, firstBlock)");
  if (len == 0 || len % BLOCK != 0) return fail(env, "xts: the buffer must be whole 4096-byte blocks");
  if (!crypt_blocks(x, encrypt ? x->enc : x->dec, encrypt, data, len, (uint64_t)first))
    return fail(env, "xts: libcrypto failed on a block");
  return NULL;
}

typedef struct {
  napi_async_work work;
  napi_ref handle; // keeps the key schedule alive while a thread reads it
  napi_ref buffer;
  napi_ref callback;
  const Xts *x;
  EVP_CIPHER_CTX *ctx; // libcrypto path: this job's copy of the context
  bool encrypt;
  unsigned char *data;
  size_t len;
  uint64_t first;
  int ok;
} Job;

static void job_execute(napi_env env, void *arg) {
  (void)env;
  Job *j = arg;
  j->ok = crypt_blocks(j->x, j->ctx, j->encrypt, j->data, j->len, j->first);
}

static void job_complete(napi_env env, napi_status status, void *arg) {
  Job *j = arg;
  napi_value cb, global, argv[1];
  napi_get_reference_value(env, j->callback, &cb);
  napi_get_global(env, &global);
  if (status != napi_ok || !j->ok) {
    napi_value msg;
    napi_create_string_utf8(env, "xts: libcrypto failed on a block", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &argv[0]);
  } else {
    napi_get_null(env, &argv[0]);
  }
  napi_delete_reference(env, j->handle);
  napi_delete_reference(env, j->buffer);
  napi_delete_reference(env, j->callback);
  napi_delete_async_work(env, j->work);
  if (j->ctx) ctx_free(j->ctx);
  free(j);
  napi_call_function(env, global, cb, 1, argv, NULL);
}

// runAsync(handle, encrypt, data, firstBlock, callback(err)): in place, on the thread pool
static napi_value run_async(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  size_t argc = 5;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Xts *x;
  bool encrypt;
  unsigned char *data;
  size_t len;
  int64_t first;
  napi_valuetype cbtype = napi_undefined;
  if (argc < 5 || napi_get_value_external(env, argv[0], (void **)&x) != napi_ok ||
      napi_get_value_bool(env, argv[1], &encrypt) != napi_ok ||
      napi_get_buffer_info(env, argv[2], (void **)&data, &len) != napi_ok ||
      napi_get_value_int64(env, argv[3], &first) != napi_ok || first < 0 ||
      napi_typeof(env, argv[4], &cbtype) != napi_ok || cbtype != napi_function)
    return fail(env, "xts: runAsync(handle, encrypt, buffer, firstBlock, callback)");
  if (len == 0 || len % BLOCK != 0) return fail(env, "xts: the buffer must be whole 4096-byte blocks");
  Job *j = calloc(1, sizeof *j);
  if (!j) return fail(env, "xts: out of memory");
  j->x = x;
  bool copy_ctx = true;
#ifdef HAVE_VAES_PATH
  copy_ctx = !x->vaes;
#endif
  if (copy_ctx) {
    j->ctx = ctx_new();
    if (!j->ctx || !ctx_copy(j->ctx, encrypt ? x->enc : x->dec)) {
      if (j->ctx) ctx_free(j->ctx);
      free(j);
      return fail(env, "xts: cannot copy the cipher context");
    }
  }
  j->encrypt = encrypt;
  j->data = data;
  j->len = len;
  j->first = (uint64_t)first;
  napi_create_reference(env, argv[0], 1, &j->handle);
  napi_create_reference(env, argv[2], 1, &j->buffer);
  napi_create_reference(env, argv[4], 1, &j->callback);
  napi_value name;
  napi_create_string_utf8(env, "xts", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, job_execute, job_complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"create", NULL, create, NULL, NULL, NULL, napi_default, NULL},
      {"engine", NULL, engine, NULL, NULL, NULL, napi_default, NULL},
      {"run", NULL, run, NULL, NULL, NULL, napi_default, NULL},
      {"runAsync", NULL, run_async, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, 4, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
