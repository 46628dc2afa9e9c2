/* Fuzz the workload parser of `wpool run` and `wpool tune`: any input is
 * accepted with sane values or refused with a message, never a crash, and
 * nothing leaks either way. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"
#include "workload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* The parser takes a length: no terminating NUL, and any NUL byte in the
   * input must be refused. */
  char *text = malloc(size ? size : 1);
  if (!text) return 0;
  memcpy(text, data, size);
  workload_t w;
  workload_defaults(&w);
  char err[320];
  if (workload_parse(&w, text, size, err, sizeof(err)) == TOOL_OK) {
    if (memchr(data, '\0', size)) abort(); /* a NUL byte was accepted */
    if (!w.modules || !w.threads || !w.concurrency || w.image_bytes > w.memory_pages * 65536)
      abort();
    for (size_t i = 0; i < w.nevents; i++)
      if ((i && w.events[i].time < w.events[i - 1].time) ||
          w.events[i].time + w.events[i].lifetime < w.events[i].time)
        abort(); /* times go back, or an instance's end wraps */
    wpool_config_t cfg;
    wpool_config_init(&cfg);
    workload_apply_config(&w, &cfg, err, sizeof(err));
    workload_free(&w);
  } else if (!err[0] || w.events || strchr(err, '\n')) {
    abort(); /* a refusal names its reason on one line and frees what it read */
  }
  free(text);
  return 0;
}
