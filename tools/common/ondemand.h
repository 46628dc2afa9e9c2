/* The on-demand baseline: what a runtime without a pool does for each
 * instance (Wasmtime's on-demand allocator, wasm2c, WAMR with hardware
 * bounds checks): mmap a fresh reservation, map the module's memfd image
 * copy-on-write, mprotect the accessible bytes; table and state from
 * malloc; munmap and free at the end. */
#ifndef WPOOL_ONDEMAND_H
#define WPOOL_ONDEMAND_H

#include <stddef.h>
#include <stdint.h>

#define ONDEMAND_RESERVATION (6ull << 30) /* 4 GiB + 2 GiB guard, as the pool's default */

typedef struct ondemand_module {
  int fd;             /* sealed memfd with the image; -1 without one */
  uint64_t image_len; /* page-rounded */
  uint64_t mem_bytes; /* accessible bytes */
  uint32_t table_elements;
  size_t state_bytes;
} ondemand_module_t;

typedef struct ondemand_instance {
  uint8_t *base;
  void **table;
  uint8_t *state;
} ondemand_instance_t;

/* Return 0 or -errno. */
int ondemand_module_init(ondemand_module_t *m, const void *image, size_t image_len,
                         uint64_t mem_bytes, uint32_t table_elements, size_t state_bytes);
void ondemand_module_fini(ondemand_module_t *m);
int ondemand_new(const ondemand_module_t *m, ondemand_instance_t *out);
void ondemand_free(const ondemand_module_t *m, ondemand_instance_t *in);

#endif
