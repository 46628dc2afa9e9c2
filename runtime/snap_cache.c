/* Snapshots in the compile cache: <key>.snap and <key>.snapman in the
 * cache directory (cache.h: opened and checked as for objects), the key
 * the SHA-256 of the module's bytes' SHA-256, the toolchain's tag (the
 * compiled object's layout: the globals' offsets), the init function's
 * name and the pool's page limit (an init's memory.grow may fail under a
 * lower one). An init's result is fixed by these: it may make no WASI
 * call whose answer varies (wasi_exports.c).
 *
 * The file: a header (magic, start pages, image bytes, init time, counts),
 * the changed globals (offset, size, value), the runs (offset, length),
 * then the runs' bytes. The manifest, renamed into place after the file,
 * holds the key, the file's size and its SHA-256; a load uses the file
 * only if it matches its manifest and every bound fits this module and
 * pool (each global one of the module's numeric globals, by offset and
 * size; runs inside the snapshot's pages; pages within the declared and
 * the pool's limits), and runs the
 * init otherwise. Files are written under temporary names (tmp-snap-*)
 * and renamed, so a reader never sees half a file. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>

#include "cache.h"
#include "snap_cache.h"

#define MAGIC "wpool-snap 1\n\0\0"
#define MAN_MAGIC "wpool-snapshot-manifest 1"
#define BLOCK 4096u
#define PAGE 65536u

typedef struct head {
  char magic[16];
  uint64_t pages, image_bytes, init_ns;
  uint32_t nglobals, nruns;
} head_t;

typedef struct run {
  uint64_t offset, len;
} run_t;

static void hex(const uint8_t *b, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

/* The entry's names, <key>.snap and <key>.snapman: 0, or -1. */
static int names(wrt_module_t *m, const wasm_module_t *w, const char *name, char snap[80],
                 char man[80], char key[65]) {
  const char *tag;
  if (rt_toolchain_tag(m->rt, &tag) != 0) return -1;
  uint8_t h[32];
  rt_sha256(w->buf, w->len, h);
  size_t tl = strlen(tag), nl = strlen(name), n = 16 + 64 + tl + nl + 48;
  char *text = malloc(n);
  if (!text) return -1;
  char hx[65];
  hex(h, 32, hx);
  int len = snprintf(text, n, "wrt-snapshot-1\n%s\n%s\n%zu:%s\n%llu\n", hx, tag, nl, name,
                     (unsigned long long)m->rt->cfg.instance_memory_pages);
  rt_sha256(text, (size_t)len, h);
  free(text);
  hex(h, 32, key);
  snprintf(snap, 80, "%s.snap", key);
  snprintf(man, 80, "%s.snapman", key);
  return 0;
}

static void manifest_text(const char *key, const uint8_t *b, size_t len, char *out, size_t cap) {
  uint8_t h[32];
  char hx[65];
  rt_sha256(b, len, h);
  hex(h, 32, hx);
  snprintf(out, cap, MAN_MAGIC "\nkey %s\nsize %zu\nsha256 %s\n", key, len, hx);
}

/* Whether the file's `len` bytes at `b` are a snapshot that fits `m`;
 * then `d` points into them (d->s and d->runs allocated). */
/* Whether each of the `n` globals at `g` is a numeric global of `m`: at
 * one's offset in the instance struct (the glue's wrt_guest_global on a
 * struct of ours), of its size. */
static bool globals_fit(wrt_module_t *m, const wasm_module_t *w, const rt_snap_global_t *g,
                        uint32_t n) {
  if (!n) return true;
  uint8_t *inst = calloc(1, m->instance_size), *size_at = calloc(1, m->instance_size);
  bool ok = inst && size_at;
  for (uint32_t i = 0; ok && i < w->nglobals; i++) {
    const uint8_t *p = m->fns.global(inst, i);
    char t = w->global_types[i];
    if (!p)
      ok = false;
    else if (t == 'i' || t == 'f' || t == 'I' || t == 'F')
      size_at[p - inst] = t == 'i' || t == 'f' ? 4 : 8;
  }
  for (uint32_t i = 0; ok && i < n; i++)
    ok = g[i].size && (uint64_t)g[i].offset + g[i].size <= m->instance_size &&
         size_at[g[i].offset] == g[i].size; /* a size of 0 is no global's */
  free(inst);
  free(size_at);
  return ok;
}

static bool parse(wrt_module_t *m, const wasm_module_t *w, const uint8_t *b, size_t len,
                  rt_snap_data_t *d) {
  head_t h;
  if (len < sizeof(h)) return false;
  memcpy(&h, b, sizeof(h));
  uint64_t limit = m->rt->cfg.instance_memory_pages < RT_MAX_PAGES
                       ? m->rt->cfg.instance_memory_pages
                       : RT_MAX_PAGES;
  if (memcmp(h.magic, MAGIC, sizeof(h.magic)) != 0) return false;
  if (m->has_memory ? h.pages < m->min_pages || h.pages > m->max_pages || h.pages > limit
                    : h.pages != 0)
    return false;
  uint64_t mem = h.pages * PAGE;
  if (h.nruns > mem / BLOCK || h.image_bytes > mem || h.nglobals > (1u << 24)) return false;
  uint64_t want = sizeof(h) + (uint64_t)h.nglobals * sizeof(rt_snap_global_t) +
                  (uint64_t)h.nruns * sizeof(run_t) + h.image_bytes;
  if (want != len) return false;
  rt_snapshot_t *s = calloc(1, sizeof(*s));
  rt_snap_global_t *g = calloc(h.nglobals ? h.nglobals : 1, sizeof(*g));
  wasm_segment_t *runs = calloc(h.nruns ? h.nruns : 1, sizeof(*runs));
  if (!s || !g || !runs) goto bad;
  const uint8_t *at = b + sizeof(h);
  memcpy(g, at, (size_t)h.nglobals * sizeof(*g));
  at += (size_t)h.nglobals * sizeof(*g);
  if (!globals_fit(m, w, g, h.nglobals)) goto bad;
  const uint8_t *bytes = at + (size_t)h.nruns * sizeof(run_t);
  uint64_t end = 0, sum = 0;
  for (uint32_t i = 0; i < h.nruns; i++, at += sizeof(run_t)) {
    run_t r;
    memcpy(&r, at, sizeof(r));
    if (r.offset % BLOCK || r.len % BLOCK || !r.len || r.offset < end || r.len > mem ||
        r.offset > mem - r.len)
      goto bad;
    runs[i] = (wasm_segment_t){
        .active = true, .offset = r.offset, .len = (uint32_t)r.len, .bytes = bytes + sum};
    end = r.offset + r.len;
    sum += r.len;
  }
  if (sum != h.image_bytes) goto bad;
  *s = (rt_snapshot_t){.globals = g,
                       .nglobals = h.nglobals,
                       .image_bytes = h.image_bytes,
                       .init_ns = h.init_ns,
                       .from_cache = true};
  d->s = s;
  d->pages = h.pages;
  d->runs = runs;
  d->nruns = h.nruns;
  return true;
bad:
  free(s);
  free(g);
  free(runs);
  return false;
}

bool rt_snap_cache_get(wrt_module_t *m, const wasm_module_t *w, const char *name,
                       rt_snap_data_t *d) {
  char snap[80], man[80], key[65];
  int dfd;
  if (names(m, w, name, snap, man, key) != 0 || rt_cache_dir_open(m->rt, &dfd) != 0) return false;
  uint8_t *mt = NULL, *b = NULL;
  size_t mlen, len;
  /* A valid file is at most the pool's memory and its runs' and globals'
   * records: read no more. */
  uint64_t pages = m->rt->cfg.instance_memory_pages < RT_MAX_PAGES
                       ? m->rt->cfg.instance_memory_pages
                       : RT_MAX_PAGES;
  uint64_t max = pages * PAGE * 2 + (uint64_t)w->nglobals * sizeof(rt_snap_global_t) + 4096;
  bool ok =
      rt_read_at(dfd, man, 4096, &mt, &mlen) == 0 && rt_read_at(dfd, snap, max, &b, &len) == 0;
  close(dfd);
  if (ok) {
    char want[512];
    manifest_text(key, b, len, want, sizeof(want));
    ok = strlen(want) == mlen && memcmp(want, mt, mlen) == 0 && parse(m, w, b, len, d);
  }
  free(mt);
  if (!ok) {
    free(b);
    return false;
  }
  d->bytes = b;
  return true;
}

/* Write `len` bytes as the file `final` in dfd: a temporary, renamed. */
static bool store(int dfd, const char *final, const void *p, size_t len) {
  char tmp[32];
  uint64_t r = 0;
  if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) r = rt_now_ns();
  snprintf(tmp, sizeof(tmp), "tmp-snap-%016llx", (unsigned long long)r);
  int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  bool ok = rt_write_all(fd, p, len);
  if (close(fd) != 0) ok = false;
  if (ok && renameat(dfd, tmp, dfd, final) == 0) return true;
  unlinkat(dfd, tmp, 0);
  return false;
}

void rt_snap_cache_put(wrt_module_t *m, const wasm_module_t *w, const char *name,
                       const rt_snap_data_t *d) {
  char snap[80], man[80], key[65];
  if (names(m, w, name, snap, man, key) != 0) return;
  head_t h = {.pages = d->pages,
              .image_bytes = d->s->image_bytes,
              .init_ns = d->s->init_ns,
              .nglobals = d->s->nglobals,
              .nruns = d->nruns};
  memcpy(h.magic, MAGIC, sizeof(h.magic));
  size_t glen = (size_t)h.nglobals * sizeof(rt_snap_global_t),
         rlen = (size_t)h.nruns * sizeof(run_t);
  size_t len = sizeof(h) + glen + rlen + h.image_bytes;
  uint8_t *b = malloc(len);
  if (!b) return;
  memcpy(b, &h, sizeof(h));
  if (glen) memcpy(b + sizeof(h), d->s->globals, glen);
  uint8_t *at = b + sizeof(h) + glen, *bytes = at + rlen;
  for (uint32_t i = 0; i < h.nruns; i++, at += sizeof(run_t)) {
    run_t r = {.offset = d->runs[i].offset, .len = d->runs[i].len};
    memcpy(at, &r, sizeof(r));
    memcpy(bytes, d->runs[i].bytes, d->runs[i].len);
    bytes += d->runs[i].len;
  }
  char text[512];
  manifest_text(key, b, len, text, sizeof(text));
  int dfd;
  if (rt_cache_dir_open(m->rt, &dfd) == 0) {
    if (store(dfd, snap, b, len)) store(dfd, man, text, strlen(text));
    close(dfd);
  }
  free(b);
}
