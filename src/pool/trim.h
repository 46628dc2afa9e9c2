/* Idle trimming (wpool_trim). */
#ifndef WPOOL_TRIM_H
#define WPOOL_TRIM_H

#include "pool/types.h"

/* Trim unused slots freed at or before now_ns - idle_ns. Time is a
 * parameter so that tests own the clock. Return the slots trimmed. */
uint64_t trim_at(wpool_t *p, uint64_t now_ns, uint64_t idle_ns);

#endif
