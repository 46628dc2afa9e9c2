/* compress: LZ77 with a hash chain (a small LZ4-like byte format) over
 * standard input; decompresses the result again, checks it equals the
 * input, and prints the sizes and an FNV-1a hash of the compressed bytes.
 * With the argument "-x", also writes the compressed bytes in hex. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_MATCH 4
#define WINDOW 65535
#define HASH_BITS 14

static uint32_t hash4(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return (v * 2654435761u) >> (32 - HASH_BITS);
}

/* Token: 1 byte (literal run length << 4 | match length - 4, 15 = more
 * bytes follow), literals, 2-byte offset, extra length bytes. */
static size_t put_len(uint8_t *o, size_t n) {
  size_t k = 0;
  while (n >= 255) o[k++] = 255, n -= 255;
  o[k++] = (uint8_t)n;
  return k;
}

static size_t compress(const uint8_t *in, size_t n, uint8_t *out) {
  int32_t *head = malloc(sizeof(int32_t) << HASH_BITS);
  int32_t *prev = malloc(sizeof(int32_t) * (n + 1));
  for (size_t i = 0; i < (1u << HASH_BITS); i++) head[i] = -1;
  size_t o = 0, lit = 0, i = 0;
  while (i < n) {
    size_t best = 0, boff = 0;
    if (i + MIN_MATCH <= n) {
      uint32_t h = hash4(in + i);
      int32_t c = head[h];
      for (int chain = 0; c >= 0 && i - (size_t)c <= WINDOW && chain < 32; chain++, c = prev[c]) {
        size_t l = 0;
        while (i + l < n && in[c + l] == in[i + l]) l++;
        if (l > best) best = l, boff = i - (size_t)c;
      }
      prev[i] = head[h];
      head[h] = (int32_t)i;
    }
    if (best < MIN_MATCH) {
      i++;
      lit++;
      if (i < n) continue;
      best = 0;
    }
    size_t ml = best ? best - MIN_MATCH : 0;
    uint8_t *tok = &out[o++];
    *tok = (uint8_t)((lit < 15 ? lit : 15) << 4 | (ml < 15 ? ml : 15));
    if (lit >= 15) o += put_len(out + o, lit - 15);
    memcpy(out + o, in + i - lit, lit);
    o += lit;
    lit = 0;
    if (best) {
      out[o++] = (uint8_t)boff;
      out[o++] = (uint8_t)(boff >> 8);
      if (ml >= 15) o += put_len(out + o, ml - 15);
      for (size_t k = 1; k < best && i + k + MIN_MATCH <= n; k++) {
        uint32_t h = hash4(in + i + k);
        prev[i + k] = head[h];
        head[h] = (int32_t)(i + k);
      }
      i += best;
    }
  }
  free(head);
  free(prev);
  return o;
}

static size_t get_len(const uint8_t *in, size_t *i) {
  size_t n = 0;
  uint8_t b;
  do n += (b = in[(*i)++]); while (b == 255);
  return n;
}

static size_t decompress(const uint8_t *in, size_t n, uint8_t *out) {
  size_t i = 0, o = 0;
  while (i < n) {
    uint8_t tok = in[i++];
    size_t lit = tok >> 4, ml = tok & 15;
    if (lit == 15) lit += get_len(in, &i);
    memcpy(out + o, in + i, lit);
    i += lit, o += lit;
    if (i >= n) break;
    size_t off = in[i] | (size_t)in[i + 1] << 8;
    i += 2;
    if (ml == 15) ml += get_len(in, &i);
    ml += MIN_MATCH;
    for (size_t k = 0; k < ml; k++, o++) out[o] = out[o - off];
  }
  return o;
}

int main(int argc, char **argv) {
  size_t cap = 1 << 16, n = 0, r;
  uint8_t *in = malloc(cap);
  while ((r = fread(in + n, 1, cap - n, stdin)) > 0)
    if ((n += r) == cap) in = realloc(in, cap *= 2);
  uint8_t *c = malloc(n + n / 8 + 64);
  size_t cn = compress(in, n, c);
  uint8_t *d = malloc(n + 16);
  size_t dn = decompress(c, cn, d);
  if (dn != n || memcmp(d, in, n) != 0) {
    fprintf(stderr, "compress: round trip failed (%zu bytes back of %zu)\n", dn, n);
    return 1;
  }
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < cn; i++) h = (h ^ c[i]) * 16777619u;
  printf("in %zu bytes, compressed %zu bytes (%.1f%%), fnv1a %08x, round trip ok\n", n, cn,
         n ? 100.0 * (double)cn / (double)n : 0.0, h);
  if (argc > 1 && strcmp(argv[1], "-x") == 0) {
    for (size_t i = 0; i < cn; i++) printf("%02x%s", c[i], i % 32 == 31 ? "\n" : "");
    printf("\n");
  }
  free(in), free(c), free(d);
  return 0;
}
