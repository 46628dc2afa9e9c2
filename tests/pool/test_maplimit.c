/* The kernel's mapping limit for real: in a child process, use up
 * vm.max_map_count (read, never changed) with small separate mappings,
 * then instantiate until failure. The failure must be a clean WPOOL_ENOMEM
 * naming the limit, never a crash, and the pool must work again once
 * mappings are given back. */
#include <errno.h>
#include <sys/mman.h>

#include "fixture.h"

static long max_map_count(void) {
  FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
  long v = 0;
  if (f) {
    if (fscanf(f, "%ld", &v) != 1) v = 0;
    fclose(f);
  }
  return v;
}

/* Child: return 0 on success, a distinct code for each failed check. */
static int child(void) {
  long limit = max_map_count();
  if (limit <= 0 || limit > 10000000) return 50; /* cannot read it: nothing to test */
  wpool_config_t c = small_config();
  c.instance_count = 64;
  c.stack_count = 0;
  wpool_t *p;
  if (wpool_create(&c, &p) != 0) return 10;
  static const char data[] = "image";
  test_module_t t;
  tm_init(&t, 2, 2, 64);
  tm_segment(&t, 4096, data, sizeof(data)); /* an image off offset 0: 4 mappings per slot */
  wpool_module_t *m;
  if (wpool_module_new(p, &t.desc, &m) != 0) return 11;

  /* One big mapping, then every other page PROT_NONE: each mprotect splits
   * off two more mappings, until the kernel refuses. */
  size_t pages = (size_t)limit * 2 + 64, page = 4096;
  uint8_t *big = mmap(NULL, pages * page, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (big == MAP_FAILED) return 12;
  size_t split = 0;
  for (size_t i = 1; i < pages; i += 2, split++)
    if (mprotect(big + i * page, page, PROT_NONE) != 0) {
      if (errno != ENOMEM) return 13;
      break;
    }
  /* Give back a little room: re-merging 6 splits frees 12 mappings, less
   * than what 64 instances need. */
  for (size_t k = 0; k < 6 && split; k++, split--)
    mprotect(big + (2 * split - 1) * page, page, PROT_READ | PROT_WRITE);

  wpool_instance_t *in[64];
  int n = 0, err = 0;
  while (n < 64 && (err = wpool_instance_new(p, m, &in[n])) == 0) n++;
  if (n == 64) return 14;                   /* the limit was never reached */
  if (err != WPOOL_ENOMEM) return 15;       /* not the typed error */
  if (!strstr(wpool_last_error(), "vm.max_map_count")) return 16;
  for (int i = 0; i < n; i++)               /* the ones that worked do work */
    if (memcmp(wpool_memory_base(in[i], 0) + 4096, data, sizeof(data)) != 0) return 17;

  /* Give the mappings back: every slot can be had again, pristine. */
  munmap(big, pages * page);
  for (int i = 0; i < n; i++) wpool_instance_free(in[i]);
  for (int i = 0; i < 64; i++) {
    if (wpool_instance_new(p, m, &in[i]) != 0) return 18;
    const uint8_t *b = wpool_memory_base(in[i], 0);
    if (!all_bytes(b, 4096, 0) || memcmp(b + 4096, data, sizeof(data)) != 0) return 19;
  }
  for (int i = 0; i < 64; i++) wpool_instance_free(in[i]);
  wpool_module_release(m);
  if (wpool_destroy(p) != 0) return 20;
  fprintf(stderr, "maplimit: vm.max_map_count %ld; %d instances before WPOOL_ENOMEM\n", limit, n);
  return 0;
}

Test(maplimit, running_out_of_kernel_mappings_is_a_clean_enomem, .timeout = 120) {
  fflush(NULL);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) _exit(child());
  int st;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  cr_assert(WIFEXITED(st), "the child crashed (signal %d)", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  if (WEXITSTATUS(st) == 50) cr_skip_test("vm.max_map_count is not readable");
  cr_assert_eq(WEXITSTATUS(st), 0, "child check %d failed (see the test's source)",
               WEXITSTATUS(st));
}
