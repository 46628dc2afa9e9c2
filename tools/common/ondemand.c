#include "ondemand.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int ondemand_module_init(ondemand_module_t *m, const void *image, size_t image_len,
                         uint64_t mem_bytes, uint32_t table_elements, size_t state_bytes) {
  *m = (ondemand_module_t){.fd = -1, .mem_bytes = mem_bytes, .table_elements = table_elements,
                           .state_bytes = state_bytes};
  if (!image_len) return 0;
  m->image_len = (image_len + 4095) & ~4095ull;
  m->fd = (int)syscall(SYS_memfd_create, "ondemand-image", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (m->fd < 0 || ftruncate(m->fd, (off_t)m->image_len) != 0 ||
      pwrite(m->fd, image, image_len, 0) != (ssize_t)image_len ||
      fcntl(m->fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_WRITE) != 0) {
    int err = -errno;
    if (m->fd >= 0) close(m->fd);
    m->fd = -1;
    return err;
  }
  return 0;
}

void ondemand_module_fini(ondemand_module_t *m) {
  if (m->fd >= 0) close(m->fd);
  m->fd = -1;
}

int ondemand_new(const ondemand_module_t *m, ondemand_instance_t *out) {
  uint8_t *base = mmap(NULL, ONDEMAND_RESERVATION, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) return -errno;
  if ((m->image_len && mmap(base, m->image_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED,
                            m->fd, 0) == MAP_FAILED) ||
      (m->mem_bytes > m->image_len &&
       mprotect(base + m->image_len, m->mem_bytes - m->image_len, PROT_READ | PROT_WRITE) != 0)) {
    int err = -errno;
    munmap(base, ONDEMAND_RESERVATION);
    return err;
  }
  out->base = base;
  out->table = calloc(m->table_elements ? m->table_elements : 1, sizeof(void *));
  out->state = calloc(1, m->state_bytes ? m->state_bytes : 1);
  if (!out->table || !out->state) {
    free(out->table);
    free(out->state);
    munmap(base, ONDEMAND_RESERVATION);
    return -ENOMEM;
  }
  return 0;
}

void ondemand_free(const ondemand_module_t *m, ondemand_instance_t *in) {
  (void)m;
  free(in->table);
  free(in->state);
  munmap(in->base, ONDEMAND_RESERVATION);
}
