/* Fuzz module descriptors against a small pool: a module is refused with
 * WPOOL_ELIMIT/WPOOL_EINVAL and a message, or accepted; an accepted one is
 * instantiated twice and each memory must read exactly as its segments,
 * applied in order, over zeros. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wpool.h"

static wpool_t *pool;

static uint64_t take(const uint8_t **d, size_t *n, unsigned bytes) {
  uint64_t v = 0;
  for (unsigned i = 0; i < bytes && *n; i++, (*d)++, (*n)--) v = v << 8 | **d;
  return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!pool) {
    wpool_config_t c;
    wpool_config_init(&c);
    c.instance_count = 2;
    c.instance_memories = 2;
    c.instance_memory_pages = 4;
    c.memory_reservation = 1 << 20;
    c.memory_guard_size = 64 << 10;
    c.instance_size = 8192;
    c.instance_tables = 2;
    c.instance_table_elements = 64;
    c.stack_count = 0;
    if (wpool_create(&c, &pool) != 0) abort();
  }
  wpool_memory_desc_t mems[3];
  wpool_data_segment_t segs[3][4];
  wpool_table_desc_t tables[3];
  memset(mems, 0, sizeof(mems));
  wpool_module_desc_t d = {.state_size = take(&data, &size, 2), .memories = mems, .tables = tables};
  d.nmemories = (uint32_t)take(&data, &size, 1) % 4;
  d.ntables = (uint32_t)take(&data, &size, 1) % 4;
  for (uint32_t i = 0; i < d.nmemories && i < 3; i++) {
    mems[i].min_pages = take(&data, &size, 1) % 8;
    uint64_t mx = take(&data, &size, 1);
    mems[i].max_pages = mx == 255 ? WPOOL_NO_MAX : mx % 8;
    mems[i].shared = take(&data, &size, 1) == 7;
    mems[i].nsegments = take(&data, &size, 1) % 5;
    mems[i].segments = segs[i];
    for (size_t k = 0; k < mems[i].nsegments && k < 4; k++) {
      segs[i][k].offset = take(&data, &size, 3);
      segs[i][k].len = take(&data, &size, 2) % 512;
      if (segs[i][k].len > size) segs[i][k].len = size;
      segs[i][k].bytes = data;
    }
  }
  for (uint32_t i = 0; i < d.ntables && i < 3; i++) {
    tables[i].min_elements = (uint32_t)take(&data, &size, 1);
    uint64_t mx = take(&data, &size, 1);
    tables[i].max_elements = mx == 255 ? WPOOL_NO_MAX32 : (uint32_t)mx;
  }
  if (d.nmemories > 3) d.nmemories = 3;
  if (d.ntables > 3) d.ntables = 3;
  wpool_module_t *m;
  int err = wpool_module_new(pool, &d, &m);
  if (err) {
    if ((err != WPOOL_ELIMIT && err != WPOOL_EINVAL) || !wpool_last_error()[0]) abort();
    return 0;
  }
  for (int round = 0; round < 2; round++) {
    wpool_instance_t *in;
    if (wpool_instance_new(pool, m, &in) != 0) abort();
    for (uint32_t i = 0; i < d.nmemories; i++) {
      uint64_t bytes = mems[i].min_pages * WPOOL_PAGE_SIZE;
      uint8_t *want = calloc(1, bytes ? bytes : 1);
      for (size_t k = 0; k < mems[i].nsegments; k++)
        if (segs[i][k].len) memcpy(want + segs[i][k].offset, segs[i][k].bytes, segs[i][k].len);
      if (wpool_memory_pages(in, i) != mems[i].min_pages ||
          memcmp(wpool_memory_base(in, i), want, bytes) != 0)
        abort();
      free(want);
      memset(wpool_memory_base(in, i), 0x5a, bytes); /* the next round must not see it */
    }
    wpool_instance_free(in);
  }
  wpool_module_release(m);
  return 0;
}
