/* SHA-256 (FIPS 180-4), for the compile cache's keys and manifests: the
 * portable compression function, and where the CPU has the SHA extensions
 * (x86-64: SHA-NI, checked once with cpuid) the same function in them,
 * about 10x faster (a load hashes the module and its object). Both are
 * checked against each other and known digests (tests/runtime/
 * test_cache.c). */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#include "rt_internal.h"

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void block(uint32_t h[8], const uint8_t *p) {
  /* (the portable compression of one 64-byte block) */
  uint32_t w[64];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
           p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = k + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
    uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    k = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
  }
  h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

static void blocks_portable(uint32_t h[8], const uint8_t *p, size_t n) {
  for (; n; n--, p += 64) block(h, p);
}

#if defined(__x86_64__)
/* The same compression with the SHA extensions: four rounds per pair of
 * sha256rnds2, the message schedule by sha256msg1/msg2 over a ring of four
 * 4-word groups. The state lives as ABEF and CDGH, as the instructions
 * want it. */
__attribute__((target("sha,sse4.1,ssse3"))) static void blocks_ni(uint32_t h[8], const uint8_t *p,
                                                                  size_t n) {
  const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bll, 0x0405060700010203ll);
  __m128i tmp = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xb1); /* CDAB */
  __m128i st1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1b); /* EFGH */
  __m128i st0 = _mm_alignr_epi8(tmp, st1, 8);                                     /* ABEF */
  st1 = _mm_blend_epi16(st1, tmp, 0xf0);                                          /* CDGH */
  for (; n; n--, p += 64) {
    __m128i abef = st0, cdgh = st1, m[4];
    for (int g = 0; g < 16; g++) {
      __m128i w;
      if (g < 4) {
        w = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), swap);
      } else {
        w = _mm_sha256msg1_epu32(m[g & 3], m[(g + 1) & 3]);          /* W[t-16], W[t-12] */
        w = _mm_add_epi32(w, _mm_alignr_epi8(m[(g + 3) & 3], m[(g + 2) & 3], 4)); /* W[t-7] */
        w = _mm_sha256msg2_epu32(w, m[(g + 3) & 3]);                 /* W[t-2]'s sigma 1 */
      }
      m[g & 3] = w;
      __m128i msg = _mm_add_epi32(w, _mm_loadu_si128((const __m128i *)&K[4 * g]));
      st1 = _mm_sha256rnds2_epu32(st1, st0, msg);
      st0 = _mm_sha256rnds2_epu32(st0, st1, _mm_shuffle_epi32(msg, 0x0e));
    }
    st0 = _mm_add_epi32(st0, abef);
    st1 = _mm_add_epi32(st1, cdgh);
  }
  tmp = _mm_shuffle_epi32(st0, 0x1b);         /* FEBA */
  st1 = _mm_shuffle_epi32(st1, 0xb1);         /* DCHG */
  st0 = _mm_blend_epi16(tmp, st1, 0xf0);      /* DCBA */
  st1 = _mm_alignr_epi8(st1, tmp, 8);         /* HGFE */
  _mm_storeu_si128((__m128i *)&h[0], st0);
  _mm_storeu_si128((__m128i *)&h[4], st1);
}

static bool cpu_has_sha(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSE4_1) || !(c & bit_SSSE3)) return false;
  return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA);
}
#endif

typedef void (*blocks_fn)(uint32_t h[8], const uint8_t *p, size_t n);

static void digest(blocks_fn blocks, const void *data, size_t len, uint8_t out[32]) {
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  const uint8_t *p = data;
  size_t n = len;
  blocks(h, p, n / 64);
  p += n / 64 * 64;
  n %= 64;
  uint8_t tail[128] = {0};
  if (n) memcpy(tail, p, n);
  tail[n] = 0x80;
  size_t tl = n < 56 ? 64 : 128;
  uint64_t bits = (uint64_t)len * 8;
  for (int i = 0; i < 8; i++) tail[tl - 1 - i] = (uint8_t)(bits >> (8 * i));
  blocks(h, tail, tl / 64);
  for (int i = 0; i < 8; i++) {
    out[4 * i] = (uint8_t)(h[i] >> 24);
    out[4 * i + 1] = (uint8_t)(h[i] >> 16);
    out[4 * i + 2] = (uint8_t)(h[i] >> 8);
    out[4 * i + 3] = (uint8_t)h[i];
  }
}

void rt_sha256_portable(const void *data, size_t len, uint8_t out[32]) {
  digest(blocks_portable, data, len, out);
}

bool rt_sha256_accelerated(void) {
#if defined(__x86_64__)
  static _Atomic int has = -1; /* every thread that races here computes the same */
  int v = atomic_load_explicit(&has, memory_order_relaxed);
  if (v < 0) atomic_store_explicit(&has, v = cpu_has_sha(), memory_order_relaxed);
  return v;
#else
  return false;
#endif
}

void rt_sha256(const void *data, size_t len, uint8_t out[32]) {
#if defined(__x86_64__)
  if (rt_sha256_accelerated()) return digest(blocks_ni, data, len, out);
#endif
  digest(blocks_portable, data, len, out);
}

void wrt_sha256(const void *data, size_t len, uint8_t out[32]) { rt_sha256(data, len, out); }
