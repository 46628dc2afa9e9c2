/* The decommit queue (decommit_batch_size): freed slots wait with their
 * ranges, one call issues a whole batch, an exhausted pool flushes first,
 * and release, trim and destroy see nothing left behind. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "fixture.h"
#include "memory/os.h"

static const char img[] = "queued image";

/* A pool whose resets always give pages back: budget 0. */
static wpool_t *queue_pool(uint32_t slots, uint32_t batch, test_module_t *t, wpool_module_t **m) {
  wpool_config_t c = small_config();
  c.instance_count = slots;
  c.decommit_batch_size = batch;
  c.linear_memory_keep_resident = 0;
  c.table_keep_resident = 0;
  wpool_t *p = make_pool(&c);
  tm_init(t, 2, 2, 256);
  tm_segment(t, 8192, img, sizeof(img));
  *m = make_module(p, t);
  return p;
}

static wpool_instance_t *dirty_instance(wpool_t *p, wpool_module_t *m) {
  wpool_instance_t *in = make_instance(p, m);
  uint8_t *b = wpool_memory_base(in, 0);
  cr_assert(all_bytes(b, 8192, 0));
  cr_assert_str_eq((char *)b + 8192, img);
  memset(b, 0xab, 2 * PAGE);
  memset(wpool_instance_state(in), 0xab, 256);
  return in;
}

Test(queue, slots_wait_until_the_batch_is_full_then_go_back_in_one_call) {
  test_module_t t;
  wpool_module_t *m;
  wpool_t *p = queue_pool(4, 4, &t, &m);
  wpool_instance_t *in[4];
  for (int i = 0; i < 4; i++) in[i] = dirty_instance(p, m);
  for (int i = 0; i < 3; i++) wpool_instance_free(in[i]);
  wpool_stats_t s = stats(p);
  cr_assert_eq(s.queued_slots, 3);
  cr_assert_eq(s.warm_slots, 0, "queued slots are not yet back");
  cr_assert_eq(s.live_instances, 1);
  uint64_t calls = os_calls(OS_PROCESS_MADVISE) + os_calls(OS_MADVISE);
  wpool_instance_free(in[3]);
  s = stats(p);
  cr_assert_eq(s.queued_slots, 0);
  cr_assert_eq(s.warm_slots, 4);
  cr_assert_eq(os_calls(OS_PROCESS_MADVISE) + os_calls(OS_MADVISE) - calls, 1,
               "the four slots' ranges in one call");
  for (int i = 0; i < 4; i++) wpool_instance_free(dirty_instance(p, m));
  wpool_decommit_flush(p);
  cr_assert_eq(stats(p).queued_slots, 0);
}

Test(queue, an_exhausted_pool_flushes_the_queue_and_succeeds) {
  test_module_t t;
  wpool_module_t *m;
  wpool_t *p = queue_pool(2, 8, &t, &m);
  wpool_instance_t *a = dirty_instance(p, m), *b = dirty_instance(p, m);
  wpool_instance_free(a);
  wpool_instance_free(b);
  cr_assert_eq(stats(p).queued_slots, 2);
  wpool_instance_t *c = dirty_instance(p, m); /* checks it reads pristine */
  cr_assert_eq(stats(p).queued_slots, 0);
  cr_assert_eq(stats(p).exhausted, 0, "the call found a slot after the flush: no EEXHAUSTED");
  wpool_instance_t *d = dirty_instance(p, m);
  wpool_instance_t *x;
  cr_assert_eq(wpool_instance_new(p, m, &x), WPOOL_EEXHAUSTED, "really full now");
  cr_assert_eq(stats(p).exhausted, 1, "counts the calls that returned WPOOL_EEXHAUSTED");
  wpool_instance_free(c);
  wpool_instance_free(d);
}

Test(queue, release_trim_and_destroy_leave_nothing_queued_or_mapped) {
  test_module_t t;
  wpool_module_t *m;
  int maps0 = count_maps("memfd:wpool-image");
  wpool_t *p = queue_pool(4, 8, &t, &m);
  wpool_instance_t *a = dirty_instance(p, m), *b = dirty_instance(p, m);
  wpool_instance_free(a);
  wpool_module_release(m); /* a's slot is queued, b is live */
  wpool_instance_free(b);
  cr_assert_eq(stats(p).queued_slots, 2);
  cr_assert_eq(wpool_trim(p, 0), 2, "trim flushes, then trims both");
  wpool_stats_t s = stats(p);
  cr_assert_eq(s.queued_slots, 0);
  cr_assert_eq(s.images_live, 0, "the released module's image is closed");
  cr_assert_eq(count_maps("memfd:wpool-image"), maps0);

  test_module_t t2;
  wpool_module_t *m2 = make_module(p, (tm_init(&t2, 1, 1, 0), &t2));
  wpool_instance_free(make_instance(p, m2));
  cr_assert_eq(wpool_destroy(p), 0, "destroy flushes the queue: %s", wpool_last_error());
}

Test(queue, a_refused_batch_is_reset_by_hand) {
  test_module_t t;
  wpool_module_t *m;
  wpool_t *p = queue_pool(3, 3, &t, &m);
  wpool_instance_t *in[3];
  for (int i = 0; i < 3; i++) in[i] = dirty_instance(p, m);
  for (int i = 0; i < 3; i++) wpool_instance_free(in[i]);
  /* Make the next batch and every madvise fail: the bytes must still be
   * put back (zeros, and the image from its view). */
  for (int i = 0; i < 3; i++) in[i] = dirty_instance(p, m);
  os_fail_at(OS_PROCESS_MADVISE, 1, ENOMEM);
  for (int k = 1; k <= 8; k++) os_fail_at(OS_MADVISE, 1, EAGAIN), (void)k;
  for (int i = 0; i < 3; i++) wpool_instance_free(in[i]);
  os_fail_reset();
  for (int i = 0; i < 3; i++) in[i] = dirty_instance(p, m);
  for (int i = 0; i < 3; i++) wpool_instance_free(in[i]);
}

Test(queue, batch_sizes_over_64_are_invalid) {
  wpool_config_t c = small_config();
  c.decommit_batch_size = 65;
  wpool_t *p;
  cr_assert_eq(wpool_create(&c, &p), WPOOL_EINVAL);
  cr_assert_str_eq(wpool_last_error(), "decommit_batch_size: 65 exceeds the maximum of 64 slots");
}

/* A sibling of issue 11's defect 2: a thread that took the queue to flush
 * it is still returning the slots when another thread's allocation finds
 * the index empty; that allocation must wait for them, not fail. One slot:
 * a thread allocates and frees (its free queues the slot), another flushes
 * the queue all the while. */
typedef struct racer {
  wpool_t *p;
  wpool_module_t *m;
  uint64_t failed;
  atomic_bool done;
} racer_t;

static void *flusher(void *arg) {
  racer_t *r = arg;
  while (!atomic_load(&r->done)) wpool_decommit_flush(r->p);
  return NULL;
}

Test(queue, an_allocation_waits_for_slots_another_thread_is_returning, .timeout = 120) {
  test_module_t t;
  racer_t r = {0};
  r.p = queue_pool(1, 2, &t, &r.m);
  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, flusher, &r), 0);
  for (int i = 0; i < 20000; i++) {
    wpool_instance_t *in;
    if (wpool_instance_new(r.p, r.m, &in) != 0) {
      r.failed++;
      continue;
    }
    wpool_memory_base(in, 0)[0] = 1;
    wpool_instance_free(in);
  }
  atomic_store(&r.done, true);
  pthread_join(th, NULL);
  cr_assert_eq(r.failed, 0, "%llu allocations failed with the slot on its way back",
               (unsigned long long)r.failed);
  wpool_module_release(r.m);
  cr_assert_eq(wpool_destroy(r.p), 0);
}
