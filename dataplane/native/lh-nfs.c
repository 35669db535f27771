/*
 * lh-nfs: one NFSv3 session (libnfs, in user space: no kernel NFS client, no mount) serving a
 * backupstore target's file calls over stdin/stdout, one call at a time. The TypeScript side
 * (dataplane/src/backup/nfs-target.ts) runs a few of these for parallelism.
 *
 *   lh-nfs 'nfs://SERVER/EXPORT/PATH[?nfsport=N&mountport=N&...]'
 *
 * The URL is libnfs's: the export is mounted, and every path of a call is relative to it.
 * On start one frame answers the mount: status 0, or -errno with libnfs's message.
 *
 * Request:  u8 op | u32 alen | a | u32 blen | b | u32 dlen | data      (little-endian)
 * Response: i32 status (0 or -errno) | u32 len | payload (an error's payload is its message)
 *
 * Ops: 'g' get a -> bytes;  'p' put data at a (temporary name, fsync, rename; parents made);
 *      's' stat a -> u64 mtime_sec | u32 mtime_nsec | u8 is_dir;  'l' list dir a -> names,
 *      '\n'-separated;  'a' every regular file under a, relative, '\n'-separated;
 *      'c' copy a to b (hard link, else read + write; through a temporary name);
 *      'r' remove a (missing is fine);  'q' quit.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/time.h>
#include <nfsc/libnfs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_LEN (256u * 1024 * 1024)

static struct nfs_context *nfs;

struct buf {
  char *p;
  size_t len, cap;
};

static void buf_add(struct buf *b, const void *data, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      perror("lh-nfs: out of memory");
      exit(2);
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, data, n);
  b->len += n;
}

static int read_full(void *p, size_t n) {
  char *c = p;
  while (n > 0) {
    ssize_t r = read(0, c, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    c += r;
    n -= (size_t)r;
  }
  return 0;
}

static void write_full(const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = write(1, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) exit(3);
    c += w;
    n -= (size_t)w;
  }
}

static void reply(int32_t status, const void *payload, uint32_t len) {
  write_full(&status, 4);
  write_full(&len, 4);
  if (len) write_full(payload, len);
}

static void reply_err(int err, const char *what, const char *path) {
  char msg[1024];
  const char *detail = nfs_get_error(nfs);
  snprintf(msg, sizeof msg, "%s %s: %s", what, path, detail && *detail ? detail : strerror(-err));
  reply(err < 0 ? err : -EIO, msg, (uint32_t)strlen(msg));
}

static char *read_str(void) {
  uint32_t n;
  if (read_full(&n, 4) || n > MAX_LEN) return NULL;
  char *s = malloc((size_t)n + 1);
  if (!s || (n && read_full(s, n))) return NULL;
  s[n] = 0;
  return s;
}

/* "/" + rel, without a trailing slash (the export's root for ""). */
static char *abs_path(const char *rel) {
  size_t n = strlen(rel);
  char *p = malloc(n + 2);
  p[0] = '/';
  memcpy(p + 1, rel, n + 1);
  while (n > 0 && p[n] == '/') p[n--] = 0;
  return p;
}

static int mkdir_parents(const char *path) {
  char *p = strdup(path);
  for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
    *s = 0;
    int r = nfs_mkdir(nfs, p);
    *s = '/';
    if (r < 0 && r != -EEXIST) {
      struct nfs_stat_64 st;
      *s = 0;
      int exists = nfs_stat64(nfs, p, &st) == 0 && S_ISDIR(st.nfs_mode);
      *s = '/';
      if (!exists) {
        free(p);
        return r;
      }
    }
  }
  free(p);
  return 0;
}

static int read_file(const char *path, struct buf *out) {
  struct nfsfh *fh;
  int r = nfs_open(nfs, path, O_RDONLY, &fh);
  if (r < 0) return r;
  struct nfs_stat_64 st;
  r = nfs_fstat64(nfs, fh, &st);
  if (r < 0) goto done;
  if (st.nfs_size > MAX_LEN) {
    r = -EFBIG;
    goto done;
  }
  out->len = 0;
  if (st.nfs_size) buf_add(out, "", 0);
  for (uint64_t off = 0;;) {
    char chunk[1 << 16];
    int n = nfs_pread(nfs, fh, off, sizeof chunk, chunk);
    if (n < 0) {
      r = n;
      goto done;
    }
    if (n == 0) break;
    buf_add(out, chunk, (size_t)n);
    off += (uint64_t)n;
  }
  r = 0;
done:
  nfs_close(nfs, fh);
  return r;
}

static char *tmp_name(const char *path) {
  size_t n = strlen(path) + 32;
  char *t = malloc(n);
  snprintf(t, n, "%s.tmp-%08lx%04x", path, (unsigned long)random(), (unsigned)getpid() & 0xffff);
  return t;
}

/* Writes data to a temporary name beside path, fsyncs it, renames it over path. */
static int write_file(const char *path, const char *data, size_t len) {
  int r = mkdir_parents(path);
  if (r < 0) return r;
  char *tmp = tmp_name(path);
  struct nfsfh *fh;
  r = nfs_creat(nfs, tmp, 0644, &fh);
  if (r < 0) goto out;
  for (size_t off = 0; off < len;) {
    size_t n = len - off > (1 << 20) ? (1 << 20) : len - off;
    int w = nfs_pwrite(nfs, fh, off, n, (void *)(data + off));
    if (w <= 0) {
      r = w < 0 ? w : -EIO;
      break;
    }
    off += (size_t)w;
  }
  if (r >= 0) r = nfs_fsync(nfs, fh);
  int c = nfs_close(nfs, fh);
  if (r >= 0) r = c;
  if (r >= 0) r = nfs_rename(nfs, tmp, path);
  if (r < 0) nfs_unlink(nfs, tmp);
out:
  free(tmp);
  return r < 0 ? r : 0;
}

static int list_dir(const char *dir, const char *rel, int recursive, struct buf *out) {
  struct nfsdir *d;
  int r = nfs_opendir(nfs, dir, &d);
  if (r < 0) return r;
  struct nfsdirent *e;
  while ((e = nfs_readdir(nfs, d)) != NULL) {
    if (!strcmp(e->name, ".") || !strcmp(e->name, "..") || strstr(e->name, ".tmp-")) continue;
    int is_dir = S_ISDIR(e->mode);
    if (!recursive) {
      buf_add(out, e->name, strlen(e->name));
      buf_add(out, "\n", 1);
      continue;
    }
    size_t n = strlen(rel) + strlen(e->name) + 2;
    char *child_rel = malloc(n);
    snprintf(child_rel, n, "%s%s%s", rel, *rel ? "/" : "", e->name);
    if (is_dir) {
      size_t m = strlen(dir) + strlen(e->name) + 2;
      char *child = malloc(m);
      snprintf(child, m, "%s/%s", strcmp(dir, "/") ? dir : "", e->name);
      r = list_dir(child, child_rel, 1, out);
      free(child);
      if (r < 0 && r != -ENOENT) {
        free(child_rel);
        nfs_closedir(nfs, d);
        return r;
      }
    } else if (S_ISREG(e->mode)) {
      buf_add(out, child_rel, strlen(child_rel));
      buf_add(out, "\n", 1);
    }
    free(child_rel);
  }
  nfs_closedir(nfs, d);
  return 0;
}

static int copy_file(const char *from, const char *to) {
  int r = mkdir_parents(to);
  if (r < 0) return r;
  char *tmp = tmp_name(to);
  r = nfs_link(nfs, from, tmp);
  if (r < 0 && r != -ENOENT) {
    struct buf data = {0};
    r = read_file(from, &data);
    if (r >= 0) r = write_file(tmp, data.p ? data.p : "", data.len);
    free(data.p);
  }
  if (r >= 0) r = nfs_rename(nfs, tmp, to);
  if (r < 0) nfs_unlink(nfs, tmp);
  free(tmp);
  return r < 0 ? r : 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: lh-nfs nfs://SERVER/EXPORT[?nfsport=N&mountport=N]\n");
    return 64;
  }
  srandom((unsigned)time(NULL) ^ (unsigned)getpid());
  nfs = nfs_init_context();
  if (!nfs) {
    reply(-ENOMEM, "no NFS context", 14);
    return 1;
  }
  nfs_set_timeout(nfs, 30000);
  struct nfs_url *url = nfs_parse_url_dir(nfs, argv[1]);
  if (!url) {
    const char *e = nfs_get_error(nfs);
    reply(-EINVAL, e, (uint32_t)strlen(e));
    return 1;
  }
  int r = nfs_mount(nfs, url->server, url->path);
  if (r < 0) {
    char msg[1024];
    snprintf(msg, sizeof msg, "mount %s:%s: %s", url->server, url->path, nfs_get_error(nfs));
    reply(r, msg, (uint32_t)strlen(msg));
    return 1;
  }
  nfs_destroy_url(url);
  reply(0, NULL, 0);

  struct buf out = {0};
  for (;;) {
    uint8_t op;
    if (read_full(&op, 1)) return 0;
    char *a = read_str(), *b = read_str();
    uint32_t dlen;
    if (!a || !b || read_full(&dlen, 4) || dlen > MAX_LEN) return 4;
    char *data = malloc(dlen ? dlen : 1);
    if (dlen && read_full(data, dlen)) return 4;
    char *pa = abs_path(a), *pb = abs_path(b);
    out.len = 0;
    switch (op) {
      case 'g':
        r = read_file(pa, &out);
        if (r < 0) reply_err(r, "read", a);
        else reply(0, out.p, (uint32_t)out.len);
        break;
      case 'p':
        r = write_file(pa, data, dlen);
        if (r < 0) reply_err(r, "write", a);
        else reply(0, NULL, 0);
        break;
      case 's': {
        struct nfs_stat_64 st;
        r = nfs_stat64(nfs, pa, &st);
        if (r < 0) {
          reply_err(r, "stat", a);
          break;
        }
        char p[13];
        uint64_t sec = st.nfs_mtime;
        uint32_t nsec = (uint32_t)st.nfs_mtime_nsec;
        memcpy(p, &sec, 8);
        memcpy(p + 8, &nsec, 4);
        p[12] = S_ISDIR(st.nfs_mode) ? 1 : 0;
        reply(0, p, 13);
        break;
      }
      case 'l':
      case 'a':
        r = list_dir(pa, "", op == 'a', &out);
        if (r < 0) reply_err(r, "list", a);
        else reply(0, out.p, (uint32_t)out.len);
        break;
      case 'c':
        r = copy_file(pa, pb);
        if (r < 0) reply_err(r, "copy to", b);
        else reply(0, NULL, 0);
        break;
      case 'r':
        r = nfs_unlink(nfs, pa);
        if (r < 0 && r != -ENOENT) reply_err(r, "remove", a);
        else reply(0, NULL, 0);
        break;
      case 'q':
        nfs_umount(nfs);
        nfs_destroy_context(nfs);
        return 0;
      default:
        reply(-EINVAL, "unknown op", 10);
    }
    free(a);
    free(b);
    free(data);
    free(pa);
    free(pb);
  }
}
