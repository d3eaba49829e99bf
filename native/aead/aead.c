/*
 * AES-256-GCM and ChaCha20-Poly1305 over bytes where they lie, for ocvault's blob workers, and
 * the few I/O helpers node lacks (a memcpy, a view's page offset, read-ahead of a file, a
 * directory listed with the lstat of each entry).
 *
 * Node's crypto returns every ciphertext in a fresh buffer: on the VMs measured here that
 * allocation (new pages, zeroing, a collector to free them) cost about twice the cipher itself.
 * These two calls encrypt or decrypt in place through the OpenSSL that node links and exports,
 * so the output is byte for byte what node:crypto gives (the same library, the same modes).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdint.h>
#include <string.h>
#include <node_api.h>
#include <openssl/evp.h>

static const EVP_CIPHER *cipher_of(int32_t which) {
  return which == 1 ? EVP_chacha20_poly1305() : EVP_aes_256_gcm();
}

static int bytes_of(napi_env env, napi_value v, unsigned char **data, size_t *len) {
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  void *d;
  if (napi_get_typedarray_info(env, v, &type, len, &d, &buffer, &offset) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "expected a Uint8Array");
    return 0;
  }
  *data = d;
  return 1;
}

/* Common arguments: cipher (0 AES-256-GCM, 1 ChaCha20-Poly1305), 32-byte key, 12-byte nonce, 16-byte tag. */
static int common_args(napi_env env, napi_value *a, int32_t *which, unsigned char **key, unsigned char **nonce, unsigned char **tag) {
  size_t kl, nl, tl;
  if (napi_get_value_int32(env, a[0], which) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a cipher number");
    return 0;
  }
  if (!bytes_of(env, a[1], key, &kl) || !bytes_of(env, a[2], nonce, &nl) || !bytes_of(env, a[4], tag, &tl)) return 0;
  if (kl != 32 || nl != 12 || tl != 16) {
    napi_throw_range_error(env, NULL, "key, nonce and tag must be 32, 12 and 16 bytes");
    return 0;
  }
  return 1;
}

/* seal(cipher, key, nonce, parts: Uint8Array[], tag): encrypts the parts in place, as one message; writes the tag. */
static napi_value seal(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value a[5];
  int32_t which;
  unsigned char *key, *nonce, *tag;
  uint32_t count;
  if (napi_get_cb_info(env, info, &argc, a, NULL, NULL) != napi_ok || argc < 5) return NULL;
  if (!common_args(env, a, &which, &key, &nonce, &tag)) return NULL;
  if (napi_get_array_length(env, a[3], &count) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected an array of parts");
    return NULL;
  }
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int ok = ctx != NULL && EVP_EncryptInit_ex(ctx, cipher_of(which), NULL, key, nonce) == 1;
  for (uint32_t i = 0; ok && i < count; i++) {
    napi_value part;
    unsigned char *p;
    size_t len;
    int outl;
    if (napi_get_element(env, a[3], i, &part) != napi_ok || !bytes_of(env, part, &p, &len)) {
      EVP_CIPHER_CTX_free(ctx);
      return NULL;
    }
    ok = len <= INT_MAX && EVP_EncryptUpdate(ctx, p, &outl, p, (int)len) == 1 && (size_t)outl == len;
  }
  int finl = 0;
  unsigned char none[1];
  ok = ok && EVP_EncryptFinal_ex(ctx, none, &finl) == 1 && finl == 0;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag) == 1;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) {
    napi_throw_error(env, NULL, "encryption failed");
    return NULL;
  }
  return NULL;
}

/* open(cipher, key, nonce, bytes, tag): decrypts bytes in place; false when the tag does not authenticate them. */
static napi_value open_(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value a[5];
  int32_t which;
  unsigned char *key, *nonce, *tag, *p;
  size_t len;
  if (napi_get_cb_info(env, info, &argc, a, NULL, NULL) != napi_ok || argc < 5) return NULL;
  if (!common_args(env, a, &which, &key, &nonce, &tag) || !bytes_of(env, a[3], &p, &len)) return NULL;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int outl = 0, finl = 0;
  unsigned char none[1];
  int ok = ctx != NULL && len <= INT_MAX && EVP_DecryptInit_ex(ctx, cipher_of(which), NULL, key, nonce) == 1 &&
           EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag) == 1 &&
           EVP_DecryptUpdate(ctx, p, &outl, p, (int)len) == 1 && (size_t)outl == len &&
           EVP_DecryptFinal_ex(ctx, none, &finl) == 1;
  EVP_CIPHER_CTX_free(ctx);
  napi_value result;
  napi_get_boolean(env, ok, &result);
  return result;
}

/*
 * copy(dst, offset, src): copies src into dst at offset with memcpy. V8 copies a view of shared
 * memory (a restore's pack pieces) with relaxed atomics, word by word: in the bench restore that
 * copy into the direct-write stage was 0.7 CPU-s of ~8.
 */
static napi_value copy(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value a[3];
  unsigned char *dst, *src;
  size_t dl, sl;
  int64_t offset;
  if (napi_get_cb_info(env, info, &argc, a, NULL, NULL) != napi_ok || argc < 3) return NULL;
  if (!bytes_of(env, a[0], &dst, &dl) || !bytes_of(env, a[2], &src, &sl)) return NULL;
  if (napi_get_value_int64(env, a[1], &offset) != napi_ok || offset < 0 || (size_t)offset > dl || sl > dl - (size_t)offset) {
    napi_throw_range_error(env, NULL, "copy out of bounds");
    return NULL;
  }
  memcpy(dst + offset, src, sl);
  return NULL;
}

/*
 * pageOffset(bytes): where the view starts within its memory page. Readers place their reads
 * with it (src/storage/copyDistance.ts): some CPUs copy from the page cache at a sixth of
 * their speed when the destination lies just past the source within a page.
 */
/* The bytes of a call's one Uint8Array argument; 0 (with an exception pending) when it has none. */
static int one_bytes_arg(napi_env env, napi_callback_info info, unsigned char **data, size_t *len) {
  size_t argc = 1;
  napi_value a[1];
  if (napi_get_cb_info(env, info, &argc, a, NULL, NULL) != napi_ok) return 0;
  if (argc < 1) {
    napi_throw_type_error(env, NULL, "expected a Uint8Array");
    return 0;
  }
  return bytes_of(env, a[0], data, len);
}

static napi_value page_offset(napi_env env, napi_callback_info info) {
  napi_value result;
  unsigned char *data;
  size_t len;
  if (!one_bytes_arg(env, info, &data, &len)) return NULL;
  napi_create_uint32(env, (uint32_t)((uintptr_t)data & 4095), &result);
  return result;
}

/*
 * Queues `job` in the thread pool. Returns 0 when no work could be made (nothing queued: the
 * caller frees the job); a job made but not queued is completed at once, as after a run.
 */
static int queue_job(napi_env env, const char *label, napi_async_execute_callback execute, napi_async_complete_callback complete,
                     void *job, napi_async_work *work) {
  napi_value name;
  napi_create_string_utf8(env, label, NAPI_AUTO_LENGTH, &name);
  if (napi_create_async_work(env, NULL, name, execute, complete, job, work) != napi_ok) return 0;
  if (napi_queue_async_work(env, *work) != napi_ok) complete(env, napi_ok, job);
  return 1;
}

/*
 * prefetch(paths): asks the kernel, from one thread-pool job, to start reading the head of each
 * file into the page cache (open + POSIX_FADV_WILLNEED + close). `paths` holds the file names,
 * each ended by a NUL byte. A blob worker asks it for the files queued behind the one it reads:
 * on a cold cache its reads were half its time, one small file at a time. One job for a
 * message's files, not one each: a job's completion wakes the worker. Errors are ignored; the
 * read that follows reports them.
 */
#define PREFETCH_BYTES (8 << 20)

typedef struct {
  napi_async_work work;
  char *paths;
  size_t len;
} prefetch_job;

static void prefetch_execute(napi_env env, void *data) {
  prefetch_job *job = data;
  (void)env;
  for (size_t at = 0; at < job->len;) {
    const char *path = job->paths + at;
    size_t n = strlen(path);
    at += n + 1;
    if (n == 0) continue;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) continue;
    posix_fadvise(fd, 0, PREFETCH_BYTES, POSIX_FADV_WILLNEED);
    close(fd);
  }
}

static void prefetch_complete(napi_env env, napi_status status, void *data) {
  prefetch_job *job = data;
  (void)status;
  napi_delete_async_work(env, job->work);
  free(job->paths);
  free(job);
}

static napi_value prefetch(napi_env env, napi_callback_info info) {
  unsigned char *bytes;
  size_t len;
  if (!one_bytes_arg(env, info, &bytes, &len) || len == 0) return NULL;
  prefetch_job *job = calloc(1, sizeof *job);
  if (job == NULL) return NULL;
  job->paths = malloc(len + 1);
  if (job->paths == NULL) {
    free(job);
    return NULL;
  }
  memcpy(job->paths, bytes, len);
  job->paths[len] = 0; /* the last name ends even when the caller left out its NUL */
  job->len = len;
  if (!queue_job(env, "ocvault.prefetch", prefetch_execute, prefetch_complete, job, &job->work)) {
    free(job->paths);
    free(job);
  }
  return NULL;
}

/*
 * scanDirs(paths): each directory's entries with the lstat of each, read in one thread-pool
 * job, so that the walk of a backup finds its next directories listed while it compares this
 * one, and its listing before the walk goes a level of the tree at a time in a few jobs (a
 * job costs the main thread more than listing a small directory: making and queueing the
 * work, waking a pool thread, completing it). `paths` holds the directory names, each ended
 * by a NUL byte (src/sources/files/dirScan.ts). Resolves with an array, in the order given,
 * of a buffer for each directory, or an errno number for one that cannot be opened or read:
 *   uint32 count, uint32 offset of the names; then per entry SCAN_FIELDS doubles (errno of its
 *   lstat or 0, st_mode, uid, gid, size, inode, rdev, mtime s, mtime ns, ctime s, ctime ns,
 *   name length); then the names back to back, in the order of Buffer.compare.
 * A directory replaced by a symlink is not followed (ENOTDIR).
 */
#define SCAN_FIELDS 12

typedef struct {
  char *name;
  size_t len;
  double f[SCAN_FIELDS];
} scan_entry;

/* one directory of a scanDirs job */
typedef struct {
  char *path;
  int err;
  unsigned char *out;
  size_t out_len;
} scan_job;

/* Buffer.compare: bytes first, then the shorter first */
static int scan_order(const void *a, const void *b) {
  const scan_entry *x = a, *y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->name, y->name, n);
  if (c != 0) return c;
  return x->len < y->len ? -1 : x->len > y->len ? 1 : 0;
}

static void scan_one(scan_job *job) {
  job->err = 0; /* EAGAIN until it runs (scan_dirs) */
  int fd = open(job->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    job->err = errno;
    return;
  }
  DIR *dir = fdopendir(fd);
  if (dir == NULL) {
    job->err = errno;
    close(fd);
    return;
  }
  size_t count = 0, cap = 64, names = 0;
  scan_entry *entries = malloc(cap * sizeof *entries);
  struct dirent *d;
  for (;;) {
    errno = 0;
    d = readdir(dir);
    if (d == NULL) {
      job->err = errno;
      break;
    }
    if (d->d_name[0] == '.' && (d->d_name[1] == 0 || (d->d_name[1] == '.' && d->d_name[2] == 0))) continue;
    if (entries != NULL && count == cap) {
      /* on failure the entries so far stay, to be freed below */
      scan_entry *more = realloc(entries, 2 * cap * sizeof *entries);
      if (more == NULL) {
        job->err = ENOMEM;
        break;
      }
      entries = more;
      cap *= 2;
    }
    if (entries == NULL) {
      job->err = ENOMEM;
      break;
    }
    scan_entry *e = &entries[count];
    e->len = strlen(d->d_name);
    e->name = malloc(e->len);
    if (e->name == NULL) {
      job->err = ENOMEM;
      break;
    }
    memcpy(e->name, d->d_name, e->len);
    count++;
    names += e->len;
    struct stat st;
    memset(e->f, 0, sizeof e->f);
    if (fstatat(fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      e->f[0] = errno;
    } else {
      e->f[1] = st.st_mode;
      e->f[2] = st.st_uid;
      e->f[3] = st.st_gid;
      e->f[4] = (double)st.st_size;
      e->f[5] = (double)st.st_ino;
      e->f[6] = (double)st.st_rdev;
      e->f[7] = (double)st.st_mtim.tv_sec;
      e->f[8] = (double)st.st_mtim.tv_nsec;
      e->f[9] = (double)st.st_ctim.tv_sec;
      e->f[10] = (double)st.st_ctim.tv_nsec;
    }
    e->f[11] = (double)e->len;
  }
  closedir(dir);
  if (job->err == 0) {
    qsort(entries, count, sizeof *entries, scan_order);
    size_t at = 8 + count * SCAN_FIELDS * sizeof(double);
    job->out_len = at + names;
    job->out = malloc(job->out_len);
    if (job->out == NULL) job->err = ENOMEM;
    else {
      uint32_t head[2] = {(uint32_t)count, (uint32_t)at};
      memcpy(job->out, head, sizeof head);
      for (size_t i = 0; i < count; i++) {
        memcpy(job->out + 8 + i * SCAN_FIELDS * sizeof(double), entries[i].f, sizeof entries[i].f);
        memcpy(job->out + at, entries[i].name, entries[i].len);
        at += entries[i].len;
      }
    }
  }
  if (entries != NULL)
    for (size_t i = 0; i < count; i++) free(entries[i].name);
  free(entries);
}

/* a scan's result as JS: its buffer, or its errno (ENOMEM when the buffer cannot be made) */
static napi_value scan_result(napi_env env, napi_status status, scan_job *job) {
  napi_value result;
  if (status == napi_ok && job->err == 0 && napi_create_buffer_copy(env, job->out_len, job->out, NULL, &result) == napi_ok) return result;
  napi_create_int32(env, job->err != 0 ? job->err : ENOMEM, &result);
  return result;
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  size_t count;
  scan_job *scans;
} scan_many_job;

static void scan_many_free(scan_many_job *job) {
  for (size_t i = 0; i < job->count; i++) {
    free(job->scans[i].out);
    free(job->scans[i].path);
  }
  free(job->scans);
  free(job);
}

static void scan_many_execute(napi_env env, void *data) {
  scan_many_job *job = data;
  (void)env;
  for (size_t i = 0; i < job->count; i++) scan_one(&job->scans[i]);
}

static void scan_many_complete(napi_env env, napi_status status, void *data) {
  scan_many_job *job = data;
  napi_value results;
  napi_create_array_with_length(env, job->count, &results);
  for (size_t i = 0; i < job->count; i++) napi_set_element(env, results, (uint32_t)i, scan_result(env, status, &job->scans[i]));
  napi_resolve_deferred(env, job->deferred, results);
  napi_delete_async_work(env, job->work);
  scan_many_free(job);
}

static napi_value scan_dirs(napi_env env, napi_callback_info info) {
  napi_value promise;
  unsigned char *bytes;
  size_t len;
  if (!one_bytes_arg(env, info, &bytes, &len)) return NULL;
  scan_many_job *job = calloc(1, sizeof *job);
  size_t count = 0;
  for (size_t i = 0; i < len; i++) count += bytes[i] == 0;
  if (job == NULL || (job->scans = calloc(count > 0 ? count : 1, sizeof *job->scans)) == NULL) {
    free(job);
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  for (size_t at = 0; job->count < count; job->count++) {
    size_t n = strlen((const char *)bytes + at);
    scan_job *scan = &job->scans[job->count];
    if ((scan->path = malloc(n + 1)) == NULL) {
      scan_many_free(job);
      napi_throw_error(env, NULL, "out of memory");
      return NULL;
    }
    memcpy(scan->path, bytes + at, n + 1);
    /* a job that cannot be queued resolves with EAGAIN, as after a run */
    scan->err = EAGAIN;
    at += n + 1;
  }
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok) {
    scan_many_free(job);
    return NULL;
  }
  if (!queue_job(env, "ocvault.scanDirs", scan_many_execute, scan_many_complete, job, &job->work)) {
    napi_value results;
    napi_create_array_with_length(env, job->count, &results);
    for (size_t i = 0; i < job->count; i++) {
      napi_value e;
      napi_create_int32(env, EAGAIN, &e);
      napi_set_element(env, results, (uint32_t)i, e);
    }
    napi_resolve_deferred(env, job->deferred, results);
    scan_many_free(job);
  }
  return promise;
}

/*
 * dropCached(fd, offset, length): tells the kernel, from the thread pool, that a range of an
 * open file will not be read again (POSIX_FADV_DONTNEED), so its clean page-cache pages are
 * freed. A restore reads each piece of a pack once; freeing 4 MiB takes ~0.4 ms, too long for
 * the thread that hands out the pieces. The descriptor is duplicated here, so the job never
 * touches a descriptor that was closed (and perhaps reused) meanwhile. An empty range does
 * nothing (to posix_fadvise a length of 0 means to the end of the file). Errors are ignored:
 * it is advice.
 */
typedef struct {
  napi_async_work work;
  int fd;
  off_t offset, length;
} drop_job;

static void drop_execute(napi_env env, void *data) {
  drop_job *job = data;
  (void)env;
  posix_fadvise(job->fd, job->offset, job->length, POSIX_FADV_DONTNEED);
}

static void drop_complete(napi_env env, napi_status status, void *data) {
  drop_job *job = data;
  (void)status;
  napi_delete_async_work(env, job->work);
  close(job->fd);
  free(job);
}

static napi_value drop_cached(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value a[3];
  int32_t fd;
  double offset, length;
  if (napi_get_cb_info(env, info, &argc, a, NULL, NULL) != napi_ok || argc < 3) return NULL;
  if (napi_get_value_int32(env, a[0], &fd) != napi_ok || napi_get_value_double(env, a[1], &offset) != napi_ok ||
      napi_get_value_double(env, a[2], &length) != napi_ok || offset < 0 || length <= 0)
    return NULL;
  drop_job *job = calloc(1, sizeof *job);
  if (job == NULL) return NULL;
  job->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (job->fd < 0) {
    free(job);
    return NULL;
  }
  job->offset = (off_t)offset;
  job->length = (off_t)length;
  if (!queue_job(env, "ocvault.dropCached", drop_execute, drop_complete, job, &job->work)) {
    close(job->fd);
    free(job);
  }
  return NULL;
}

/* as napi_set_named_property would: writable, enumerable, configurable */
#define EXPORT(js, c) {js, NULL, c, NULL, NULL, NULL, napi_writable | napi_enumerable | napi_configurable, NULL}

static napi_value init(napi_env env, napi_value exports) {
  const napi_property_descriptor functions[] = {
      EXPORT("copy", copy),
      EXPORT("seal", seal),
      EXPORT("open", open_),
      EXPORT("pageOffset", page_offset),
      EXPORT("prefetch", prefetch),
      EXPORT("scanDirs", scan_dirs),
      EXPORT("dropCached", drop_cached),
  };
  napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
  return exports;
}

NAPI_MODULE_INIT() {
  return init(env, exports);
}
