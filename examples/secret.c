/* secret (hostile): looks for any earlier request's secret in its whole
 * memory, then leaves its own secret in its heap, stack and globals (and
 * in pages grown with memory.grow) for a later tenant of the slot to find.
 * Prints the number of secrets found; a runtime that isolates requests
 * makes it print 0 every time. The secret is built at run time, so it is
 * in no data segment; its own scan runs before it writes any. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_LEN 32
#define GROW_PAGES 64 /* 4 MiB: more than the large block's 3 MiB */

static char globals[8192];

static void make_secret(volatile char *s) {
  /* "WPOOL-TENANT-SECRET-" and a tail, computed so no constant holds it. */
  const char *parts = "VOnNK,SDMBMS,RDBQDS,";
  for (int i = 0; i < 20; i++) s[i] = (char)(parts[i] + 1);
  for (int i = 20; i < SECRET_LEN; i++) s[i] = (char)('a' + (i * 7) % 26);
}

#ifdef __wasm__
static size_t memory_bytes(void) { return __builtin_wasm_memory_size(0) * 65536; }

static long scan(const char *secret) {
  long found = 0;
  size_t end = memory_bytes() - SECRET_LEN;
  /* Address 0 is ordinary memory in wasm; start at 8 so no C compiler
   * treats the first read as a null dereference. */
  for (size_t a = 8; a < end; a++) {
    const volatile char *m = (const volatile char *)a;
    if (m[0] == secret[0] && m[1] == secret[1]) {
      int k = 2;
      while (k < SECRET_LEN && m[k] == secret[k]) k++;
      if (k == SECRET_LEN && (const char *)m != secret) found++;
    }
  }
  return found;
}
#else
/* A native process has no memory of an earlier tenant to scan. */
static long scan(const char *secret) {
  (void)secret;
  return 0;
}
#endif

static void leave_on_stack(const char *secret, int depth) {
  volatile char frame[1024];
  for (int i = 0; i + SECRET_LEN <= (int)sizeof(frame); i += 128)
    memcpy((char *)frame + i, secret, SECRET_LEN);
  if (depth) leave_on_stack(secret, depth - 1);
}

int main(void) {
  /* The secret lives on the stack while scanning (and is skipped by
   * address); it is the only copy. */
  char secret[SECRET_LEN];
  make_secret(secret);
#ifdef __wasm__
  /* Grow the memory first by what the large block below will take, so the
   * scan also covers the pages an earlier request grew into. */
  __builtin_wasm_memory_grow(0, GROW_PAGES);
#endif
  long found = scan(secret);
  for (size_t i = 0; i + SECRET_LEN <= sizeof(globals); i += 256)
    memcpy(globals + i, secret, SECRET_LEN);
  leave_on_stack(secret, 16);
  /* Small blocks in the initial heap, and a large one that grows memory. */
  for (int i = 0; i < 64; i++) {
    char *p = malloc(200);
    memcpy(p, secret, SECRET_LEN);
    if (i % 2) free(p);
  }
  size_t big = 3u << 20;
  char *q = malloc(big);
  if (q)
    for (size_t i = 0; i + SECRET_LEN <= big; i += 4096) memcpy(q + i, secret, SECRET_LEN);
  printf("secrets found: %ld\n", found);
  return 0;
}
