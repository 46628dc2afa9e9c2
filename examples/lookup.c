/* lookup: a guest whose start-up costs more than its request (issue 23,
 * docs/snapshot.md). It needs a 1 MiB lookup table (262,144 32-bit words,
 * each a value mixed 16 rounds) before it can answer; the request hashes
 * standard input through it and prints the hash, the input's length and
 * eight entries of the table. Under `wpool serve` (WAGI: REQUEST_METHOD
 * set) it prints a Content-Type header first and hashes the body.
 *
 * The table is built by wizer.initialize when the runtime pre-initialises
 * the module (a snapshot at load: every request starts with it built), or
 * at the first use in _start otherwise (`wpool wasm --no-init`, or another
 * runtime): the output is the same either way. Natively, main builds it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define ENTRIES (1u << 18) /* 1 MiB of uint32_t */
#define ROUNDS 16

static uint32_t table[ENTRIES];
static int built;

static uint32_t mix(uint32_t x) {
  for (int r = 0; r < ROUNDS; r++) {
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    x += (uint32_t)r;
  }
  return x;
}

static void build(void) {
  for (uint32_t i = 0; i < ENTRIES; i++) table[i] = mix(i) | 1u;
  built = 1;
}

#ifdef __wasm__
/* Run once at load by a pre-initialising runtime: no WASI call at all. */
__attribute__((export_name("wizer.initialize"))) void lookup_initialize(void) { build(); }
#endif

int main(void) {
  if (!built) build();
  if (getenv("REQUEST_METHOD")) printf("Content-Type: text/plain\n\n");
  static unsigned char in[1 << 16];
  size_t n = 0;
  ssize_t r;
  while (n < sizeof(in) && (r = read(0, in + n, sizeof(in) - n)) > 0) n += (size_t)r;
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = table[(h ^ in[i]) & (ENTRIES - 1)] ^ (h >> 7) ^ in[i];
  printf("bytes %zu hash %08x\n", n, h);
  for (uint32_t k = 0; k < 8; k++) printf("table[%u] = %08x\n", k * 32771u, table[k * 32771u]);
  return 0;
}
