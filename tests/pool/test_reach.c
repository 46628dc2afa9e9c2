/* memory_unchecked_reach (issue 13): a runtime whose code does no bounds
 * checks says how far past a memory's base it may reach; wpool_create
 * accepts only layouts where every such address is the memory's own
 * accessible bytes or faults, never a neighbour's byte. */
#include <setjmp.h>
#include <signal.h>
#include <sys/wait.h>

#include "fixture.h"

#define GiB (1024ull * MiB)

Test(reach, the_wasm2c_layout_is_accepted) {
  wpool_config_t c = small_config();
  c.memory_reservation = 4 * GiB;
  c.memory_guard_size = 4 * GiB;
  c.memory_unchecked_reach = 8 * GiB;
  wpool_t *p;
  cr_assert_eq(wpool_create(&c, &p), 0, "%s", wpool_last_error());
  cr_assert_eq(wpool_destroy(p), 0);
}

Test(reach, a_reach_past_reservation_and_guard_is_refused_naming_all_three) {
  wpool_config_t c = small_config();
  c.memory_reservation = 4 * GiB;
  c.memory_guard_size = 2 * GiB;
  c.memory_unchecked_reach = 8 * GiB;
  wpool_t *p;
  cr_assert_eq(wpool_create(&c, &p), WPOOL_EINVAL);
  const char *e = wpool_last_error();
  cr_assert(strstr(e, "memory_unchecked_reach: 8589934592") && strstr(e, "memory_reservation") &&
                strstr(e, "memory_guard_size"),
            "%s", e);
  /* The boundary: reservation + guard exactly, and one byte more. */
  c.memory_unchecked_reach = 6 * GiB;
  cr_assert_eq(wpool_create(&c, &p), 0, "%s", wpool_last_error());
  cr_assert_eq(wpool_destroy(p), 0);
  c.memory_unchecked_reach = 6 * GiB + 1;
  cr_assert_eq(wpool_create(&c, &p), WPOOL_EINVAL);
  /* The default layout with wasm2c's reach: the safety hole of issue 13. */
  wpool_config_init(&c);
  c.instance_count = 4;
  c.memory_unchecked_reach = 8 * GiB;
  cr_assert_eq(wpool_create(&c, &p), WPOOL_EINVAL);
}

static sigjmp_buf probe_jmp;
static void on_fault(int sig) {
  (void)sig;
  siglongjmp(probe_jmp, 1);
}

/* In a child: write at every 64 KiB step and both edges of [from, to);
 * each write must fault. Exit 0, 1 when a write landed, 2 when the
 * neighbour's bytes changed. */
static int probe_child(uint8_t *const from, uint8_t *const to, const uint8_t *neighbour,
                       size_t nlen) {
  fflush(NULL);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    struct sigaction sa = {.sa_handler = on_fault};
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    for (uint8_t *volatile a = from;; a = a + 65536 < to - 1 ? a + 65536 : to - 1) {
      if (sigsetjmp(probe_jmp, 1) == 0) {
        *(volatile uint8_t *)a = 0xee;
        _exit(1);
      }
      if (a == to - 1) break;
    }
    for (size_t i = 0; i < nlen; i++)
      if (neighbour[i] != 0x5a) _exit(2);
    _exit(0);
  }
  int st;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

Test(reach, every_address_in_the_reach_is_the_memory_or_faults_and_the_neighbour_is_intact) {
  wpool_config_t c = small_config(); /* 1 MiB reservation, 64 KiB guard */
  c.memory_guard_size = 1 * MiB;
  c.memory_unchecked_reach = 2 * MiB;
  wpool_t *p = make_pool(&c);
  test_module_t t;
  tm_init(&t, 2, 4, 0);
  wpool_module_t *m = make_module(p, &t);
  wpool_instance_t *a = make_instance(p, m), *b = make_instance(p, m);
  uint8_t *ba = wpool_memory_base(a, 0), *bb = wpool_memory_base(b, 0);
  if (ba > bb) {
    wpool_instance_t *x = a;
    a = b, b = x;
    ba = wpool_memory_base(a, 0), bb = wpool_memory_base(b, 0);
  }
  cr_assert_eq((uint64_t)(bb - ba), 2 * MiB, "neighbours: the reach ends at the next base");
  memset(bb, 0x5a, 2 * PAGE);
  memset(ba, 1, 2 * PAGE); /* the accessible bytes are the memory's own */
  int r = probe_child(ba + 2 * PAGE, ba + c.memory_unchecked_reach, bb, 2 * PAGE);
  cr_assert_eq(r, 0, "child status %d (1: a write past the accessible bytes landed; 2: the "
                     "neighbour changed)", r);
  wpool_instance_free(a);
  wpool_instance_free(b);
  cr_assert_eq(wpool_destroy(p), 0);
}
