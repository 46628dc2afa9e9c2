#include "guests.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

const guest_case_t guest_cases[GUEST_NCASES] = {
    {"hello", NULL, GUEST_INPUT_NONE},    {"sha256sum", NULL, GUEST_INPUT_LINES},
    {"json", NULL, GUEST_INPUT_JSON},     {"template", NULL, GUEST_INPUT_VARS},
    {"compress", NULL, GUEST_INPUT_LINES}, {"glob", "*item-1??.*", GUEST_INPUT_LINES},
    {"secret", NULL, GUEST_INPUT_NONE},
};
_Static_assert(GUEST_NREALISTIC == GUEST_NCASES - 1, "the secret scanner comes last");

char *guest_input(guest_input_t kind, size_t *len) { return guest_input_sized(kind, 0, len); }

char *guest_input_sized(guest_input_t kind, size_t min_bytes, size_t *len) {
  /* Room for the longest line or user past min_bytes. */
  size_t cap = (min_bytes > (1 << 17) - 256 ? min_bytes + 256 : 1 << 17), n = 0;
  char *b = malloc(cap);
  if (!b) return NULL;
  if (kind == GUEST_INPUT_LINES) {
    uint32_t x = 12345;
    for (int i = 0; i < 1500 || n < min_bytes; i++) {
      x = x * 1103515245u + 12345u;
      n += (size_t)snprintf(b + n, cap - n, "line %d %s-%u.%s\n", i,
                            (x >> 16) % 3 ? "item" : "node", (x >> 8) % 1000,
                            (x >> 20) % 2 ? "txt" : "json");
    }
  } else if (kind == GUEST_INPUT_JSON) {
    n += (size_t)snprintf(b + n, cap - n, "{\"users\":[");
    for (int i = 0; i < 200 || n + 2 < min_bytes; i++)
      n += (size_t)snprintf(b + n, cap - n, "%s{\"id\":%d,\"name\":\"u%d\",\"tags\":[\"a\",%d]}",
                            i ? "," : "", i, i, i * 3);
    n += (size_t)snprintf(b + n, cap - n, "]}");
  } else if (kind == GUEST_INPUT_VARS) {
    n = (size_t)snprintf(b, cap, "user=ann\ntitle=Report\nplan=pro\nregion=eu\n");
  }
  *len = n;
  return b;
}
