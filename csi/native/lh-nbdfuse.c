/*
 * lh-nbdfuse: one NBD export as one file under a FUSE mount, like nbdfuse, but able to grow.
 *
 *   lh-nbdfuse [-C CONNECTIONS] [-P PIDFILE] [--direct-io] MOUNTPOINT NBD-URI
 *
 * The file is MOUNTPOINT/nbd. On SIGHUP it opens fresh connections to the same URI, and when
 * the export's size changed it switches to them and tells the kernel (the file's attributes
 * are never cached, so the next stat() sees the new size; a loop device over the file then
 * takes it with LOOP_SET_CAPACITY). nbdfuse 1.14 learns the size once, at connect time.
 *
 * I/O: FUSE's worker threads each issue a synchronous libnbd call on one of CONNECTIONS
 * handles (round-robin; a libnbd handle serialises its own calls). More than one connection
 * only when the server advertises multi-conn, which also makes a flush on one of them cover
 * writes completed on all of them. Reads past the end return short; writes past it ENOSPC;
 * fallocate punch-hole and zero-range become NBD WRITE_ZEROES (reads return zeros after).
 * The kernel caches the file's pages as it does nbdfuse's (a loop device over it reads again
 * from that cache: 4 KiB random reads measured ~10x faster than with --direct-io).
 *
 * The pid file is written once the kernel has mounted the file system (FUSE init), so its
 * presence means "serving". Unmounting (fusermount3 -u) ends the process.
 */
#define FUSE_USE_VERSION 312
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <libnbd.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_NAME "nbd"
#define FILE_PATH "/" FILE_NAME
#define MAX_CONNECTIONS 16

/* One generation of connections to the export, all agreeing on its size. */
struct export {
  struct nbd_handle *h[MAX_CONNECTIONS];
  int n;
  int64_t size;
  int can_zero;
  int can_flush;
};

static const char *uri;
static const char *pidfile;
static int connections = 4;
static int direct_io;
static struct export *current;
/* I/O holds it shared; a switch to a new generation holds it exclusive. */
static pthread_rwlock_t current_lock;
static atomic_uint next_handle;
static sem_t resize_requested;
static struct fuse *fuse_instance;

static void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_msg(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "lh-nbdfuse: ");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static void export_close(struct export *e) {
  if (!e) return;
  for (int i = 0; i < e->n; i++) nbd_close(e->h[i]);
  free(e);
}

static struct nbd_handle *connect_one(void) {
  struct nbd_handle *h = nbd_create();
  if (!h) {
    log_msg("nbd_create: %s", nbd_get_error());
    return NULL;
  }
  if (nbd_connect_uri(h, uri) == -1) {
    log_msg("connect %s: %s", uri, nbd_get_error());
    nbd_close(h);
    return NULL;
  }
  return h;
}

/* Opens a new generation: one connection, then more if the server allows multi-conn. */
static struct export *export_open(void) {
  struct export *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  e->h[0] = connect_one();
  if (!e->h[0]) goto fail;
  e->n = 1;
  e->size = nbd_get_size(e->h[0]);
  if (e->size < 0) {
    log_msg("size of %s: %s", uri, nbd_get_error());
    goto fail;
  }
  e->can_zero = nbd_can_zero(e->h[0]) == 1;
  e->can_flush = nbd_can_flush(e->h[0]) == 1;
  int want = nbd_can_multi_conn(e->h[0]) == 1 ? connections : 1;
  while (e->n < want) {
    struct nbd_handle *h = connect_one();
    if (!h) goto fail;
    e->h[e->n++] = h;
    if (nbd_get_size(h) != e->size) {
      log_msg("%s changed size while connecting; retry", uri);
      goto fail;
    }
  }
  return e;
fail:
  export_close(e);
  return NULL;
}

static int nbd_errno_or_eio(void) {
  int err = nbd_get_errno();
  return err ? -err : -EIO;
}

/* Runs `op` on the next handle of the current generation, with the generation held shared. */
#define WITH_HANDLE(e, h, body)                                              \
  do {                                                                       \
    pthread_rwlock_rdlock(&current_lock);                                    \
    struct export *e = current;                                              \
    struct nbd_handle *h = e->h[atomic_fetch_add(&next_handle, 1) % e->n]; \
    body;                                                                    \
    pthread_rwlock_unlock(&current_lock);                                    \
  } while (0)

static int64_t current_size(void) {
  pthread_rwlock_rdlock(&current_lock);
  int64_t size = current->size;
  pthread_rwlock_unlock(&current_lock);
  return size;
}

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
  /* Attributes are fetched on every stat, so a grown size shows at once; no other operation
   * asks for them (auto_inval_data would, before every read). */
  cfg->attr_timeout = 0;
  cfg->entry_timeout = 0;
  cfg->negative_timeout = 0;
  cfg->direct_io = direct_io;
  cfg->use_ino = 1;
  conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
  if (conn->capable & FUSE_CAP_ASYNC_DIO) conn->want |= FUSE_CAP_ASYNC_DIO;
  conn->max_write = 1 << 20;
  conn->max_readahead = 1 << 20;
  conn->max_background = 64;
  if (pidfile) {
    FILE *f = fopen(pidfile, "w");
    if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0)
      log_msg("cannot write pid file %s: %s", pidfile, strerror(errno));
  }
  return NULL;
}

static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
  (void)fi;
  memset(st, 0, sizeof *st);
  st->st_uid = getuid();
  st->st_gid = getgid();
  if (strcmp(path, "/") == 0) {
    st->st_ino = 1;
    st->st_mode = S_IFDIR | 0755;
    st->st_nlink = 2;
    return 0;
  }
  if (strcmp(path, FILE_PATH) == 0) {
    st->st_ino = 2;
    st->st_mode = S_IFREG | 0600;
    st->st_nlink = 1;
    st->st_size = current_size();
    st->st_blocks = (st->st_size + 511) / 512;
    st->st_blksize = 4096;
    return 0;
  }
  return -ENOENT;
}

static int op_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags) {
  (void)off;
  (void)fi;
  (void)flags;
  if (strcmp(path, "/") != 0) return -ENOTDIR;
  fill(buf, ".", NULL, 0, 0);
  fill(buf, "..", NULL, 0, 0);
  fill(buf, FILE_NAME, NULL, 0, 0);
  return 0;
}

static int op_open(const char *path, struct fuse_file_info *fi) {
  if (strcmp(path, FILE_PATH) != 0) return -ENOENT;
  fi->direct_io = direct_io;
  return 0;
}

static int op_read(const char *path, char *buf, size_t count, off_t off, struct fuse_file_info *fi) {
  (void)path;
  (void)fi;
  int r = 0;
  WITH_HANDLE(e, h, {
    if (off >= e->size) {
      r = 0;
    } else {
      if ((int64_t)count > e->size - off) count = (size_t)(e->size - off);
      r = nbd_pread(h, buf, count, (uint64_t)off, 0) == -1 ? nbd_errno_or_eio() : (int)count;
    }
  });
  if (r < 0) log_msg("read %zu at %lld: %s", count, (long long)off, strerror(-r));
  return r;
}

static int op_write(const char *path, const char *buf, size_t count, off_t off,
                    struct fuse_file_info *fi) {
  (void)path;
  (void)fi;
  int r = 0;
  WITH_HANDLE(e, h, {
    if (off < 0 || (int64_t)count > e->size - off)
      r = -ENOSPC;
    else
      r = nbd_pwrite(h, buf, count, (uint64_t)off, 0) == -1 ? nbd_errno_or_eio() : (int)count;
  });
  if (r < 0) log_msg("write %zu at %lld: %s", count, (long long)off, strerror(-r));
  return r;
}

static int flush_export(void) {
  int r = 0;
  WITH_HANDLE(e, h, {
    if (e->can_flush && nbd_flush(h, 0) == -1) r = nbd_errno_or_eio();
  });
  if (r < 0) log_msg("flush: %s", strerror(-r));
  return r;
}

static int op_flush(const char *path, struct fuse_file_info *fi) {
  (void)path;
  (void)fi;
  return flush_export();
}

static int op_fsync(const char *path, int datasync, struct fuse_file_info *fi) {
  (void)path;
  (void)datasync;
  (void)fi;
  return flush_export();
}

static int op_fallocate(const char *path, int mode, off_t off, off_t len, struct fuse_file_info *fi) {
  (void)path;
  (void)fi;
  int r = 0;
  WITH_HANDLE(e, h, {
    if (off < 0 || len < 0 || len > e->size - off) {
      r = (mode & FALLOC_FL_KEEP_SIZE) && off >= 0 && len >= 0 ? -EOPNOTSUPP : -ENOSPC;
    } else if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
      if (!e->can_zero)
        r = -EOPNOTSUPP;
      else if (len > 0 && nbd_zero(h, (uint64_t)len, (uint64_t)off, 0) == -1)
        r = nbd_errno_or_eio();
    } else if (mode & ~FALLOC_FL_KEEP_SIZE) {
      r = -EOPNOTSUPP;
    }
    /* Plain allocation inside the export: every byte of a block device already exists. */
  });
  return r;
}

static int op_truncate(const char *path, off_t size, struct fuse_file_info *fi) {
  (void)fi;
  if (strcmp(path, FILE_PATH) != 0) return -ENOENT;
  return size == current_size() ? 0 : -EPERM;
}

static const struct fuse_operations ops = {
    .init = op_init,
    .getattr = op_getattr,
    .readdir = op_readdir,
    .open = op_open,
    .read = op_read,
    .write = op_write,
    .flush = op_flush,
    .fsync = op_fsync,
    .fallocate = op_fallocate,
    .truncate = op_truncate,
};

static void on_sighup(int sig) {
  (void)sig;
  sem_post(&resize_requested);
}

/* Waits for SIGHUP; then reconnects and, when the size changed, switches generations. */
static void *resize_thread(void *arg) {
  (void)arg;
  for (;;) {
    if (sem_wait(&resize_requested) == -1) continue;
    while (sem_trywait(&resize_requested) == 0) {
    }
    struct export *fresh = export_open();
    if (!fresh) {
      log_msg("resize: cannot reconnect to %s; keeping the current connections", uri);
      continue;
    }
    pthread_rwlock_wrlock(&current_lock);
    struct export *old = current;
    int changed = fresh->size != old->size;
    if (changed) current = fresh;
    pthread_rwlock_unlock(&current_lock);
    if (!changed) {
      log_msg("resize: size unchanged (%lld bytes)", (long long)old->size);
      export_close(fresh);
      continue;
    }
    log_msg("resize: %lld -> %lld bytes", (long long)old->size, (long long)fresh->size);
    export_close(old);
    /* Attributes are not cached anyway; this also drops any cached pages past the old end. */
    if (fuse_instance) fuse_invalidate_path(fuse_instance, FILE_PATH);
  }
  return NULL;
}

static void usage(void) {
  fprintf(stderr, "usage: lh-nbdfuse [-C CONNECTIONS] [-P PIDFILE] [--direct-io] MOUNTPOINT NBD-URI\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *mountpoint = NULL;
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (strcmp(argv[i], "-C") == 0 && i + 1 < argc) {
      connections = atoi(argv[++i]);
      if (connections < 1 || connections > MAX_CONNECTIONS) {
        fprintf(stderr, "lh-nbdfuse: -C must be 1..%d\n", MAX_CONNECTIONS);
        return 2;
      }
    } else if (strcmp(argv[i], "-P") == 0 && i + 1 < argc) {
      pidfile = argv[++i];
    } else if (strcmp(argv[i], "--direct-io") == 0) {
      direct_io = 1;
    } else {
      usage();
    }
  }
  if (argc - i != 2) usage();
  mountpoint = argv[i];
  uri = argv[i + 1];

  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  /* A steady stream of I/O must not keep a generation switch waiting forever. */
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&current_lock, &attr);
  sem_init(&resize_requested, 0, 0);

  current = export_open();
  if (!current) return 1;
  log_msg("%s: %lld bytes over %d connection(s)", uri, (long long)current->size, current->n);

  /* Installed before FUSE's own handlers, which then leave SIGHUP alone. */
  struct sigaction sa = {.sa_handler = on_sighup};
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGHUP, &sa, NULL);
  pthread_t tid;
  if (pthread_create(&tid, NULL, resize_thread, NULL) != 0) {
    log_msg("cannot start the resize thread");
    return 1;
  }

  char *fargv[] = {argv[0], "-o", "fsname=lh-nbdfuse,subtype=nbd,default_permissions", NULL};
  struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
  fuse_instance = fuse_new(&args, &ops, sizeof ops, NULL);
  if (!fuse_instance) return 1;
  if (fuse_mount(fuse_instance, mountpoint) != 0) {
    fuse_destroy(fuse_instance);
    return 1;
  }
  if (fuse_set_signal_handlers(fuse_get_session(fuse_instance)) != 0) {
    fuse_unmount(fuse_instance);
    fuse_destroy(fuse_instance);
    return 1;
  }
  struct fuse_loop_config *loop = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(loop, 32);
  fuse_loop_cfg_set_idle_threads(loop, 8);
  int r = fuse_loop_mt(fuse_instance, loop);
  fuse_loop_cfg_destroy(loop);
  fuse_remove_signal_handlers(fuse_get_session(fuse_instance));
  fuse_unmount(fuse_instance);
  fuse_destroy(fuse_instance);
  pthread_rwlock_wrlock(&current_lock);
  export_close(current);
  current = NULL;
  if (pidfile) unlink(pidfile);
  return r == 0 ? 0 : 1;
}
