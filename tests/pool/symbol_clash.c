/* A runtime with functions named like wpool's internals: it must link
 * against the installed libwpool.a (which exports only wpool_* names) and
 * its own functions must be the ones it calls. */
#include <stdio.h>
#include <stdlib.h>

#include "wpool.h"

static int mine;
void heap_free(void *p) { (void)p, mine++; }
void *heap_calloc(size_t n, size_t s) { return (void)n, (void)s, mine++, NULL; }
int index_init(void *ix, unsigned cap, unsigned n) { return (void)ix, (void)cap, (void)n, mine++; }
int error_set(int code, const char *fmt, ...) { return (void)fmt, mine++, code; }
int os_mmap(void) { return mine++; }
void module_unref(void *m) { (void)m, mine++; }
int config_validate(void) { return mine++; }
void recycle_free(void) { mine++; }

int main(void) {
  wpool_config_t c;
  wpool_config_init(&c);
  c.instance_count = 2;
  c.stack_count = 1;
  wpool_t *p;
  if (wpool_create(&c, &p) != 0) {
    fprintf(stderr, "symbol_clash: %s\n", wpool_last_error());
    return 1;
  }
  if (wpool_destroy(p) != 0) return 1;
  heap_free(NULL);
  if (mine != 1) {
    fprintf(stderr, "symbol_clash: the library called the runtime's own functions (%d)\n", mine);
    return 1;
  }
  return 0;
}
