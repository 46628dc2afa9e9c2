/* Parsing of the replay trace format (see trace.h). Strict: decimal digits
 * only, no signs, no overflow, nothing after the operands but white space. */
#include "trace.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

void trace_modules_init(trace_modules_t *m) { memset(m, 0, sizeof(*m)); }

void trace_modules_free(trace_modules_t *m) {
  free(m->keys);
  free(m->ids);
  memset(m, 0, sizeof(*m));
}

static size_t hash_u64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  return (size_t)k;
}

static int modules_grow(trace_modules_t *m) {
  size_t cap = m->cap ? m->cap * 2 : 64;
  uint64_t *keys = calloc(cap, sizeof(*keys));
  uint32_t *ids = calloc(cap, sizeof(*ids));
  if (!keys || !ids) {
    free(keys);
    free(ids);
    return -1;
  }
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->keys[i]) continue;
    size_t j = hash_u64(m->keys[i]) & (cap - 1);
    while (keys[j]) j = (j + 1) & (cap - 1);
    keys[j] = m->keys[i];
    ids[j] = m->ids[i];
  }
  free(m->keys);
  free(m->ids);
  m->keys = keys;
  m->ids = ids;
  m->cap = cap;
  return 0;
}

/* Dense id of module `number`, assigned on first sight; UINT32_MAX on ENOMEM. */
static uint32_t modules_id(trace_modules_t *m, uint32_t number) {
  if ((m->count + 1) * 2 > m->cap && modules_grow(m) != 0) return UINT32_MAX;
  uint64_t key = (uint64_t)number + 1;
  size_t j = hash_u64(key) & (m->cap - 1);
  while (m->keys[j] && m->keys[j] != key) j = (j + 1) & (m->cap - 1);
  if (!m->keys[j]) {
    m->keys[j] = key;
    m->ids[j] = (uint32_t)m->count++;
  }
  return m->ids[j];
}

/* Read a decimal number of at most `max`; advance *p. */
static bool parse_u32(const char **p, uint64_t max, uint32_t *out) {
  const char *s = *p;
  if (!isdigit((unsigned char)*s)) return false;
  uint64_t v = 0;
  while (isdigit((unsigned char)*s)) {
    v = v * 10 + (uint64_t)(*s - '0');
    if (v > max) return false;
    s++;
  }
  *p = s;
  *out = (uint32_t)v;
  return true;
}

static void skip_space(const char **p) {
  while (**p == ' ' || **p == '\t' || **p == '\r') (*p)++;
}

/* Require white space then a token start. */
static bool separator(const char **p) {
  if (**p != ' ' && **p != '\t') return false;
  skip_space(p);
  return **p != '\0';
}

int trace_parse(trace_modules_t *m, const char *line, size_t len, trace_op_t *op, char *err,
                size_t errlen) {
  size_t nul = text_nul_column(line, len);
  if (nul) {
    snprintf(err, errlen, "a NUL byte at column %zu", nul);
    return -1;
  }
  const char *p = line;
  skip_space(&p);
  if (*p == '\0' || *p == '#') return 0;

  const char *word = p;
  while (*p && *p != ' ' && *p != '\t' && *p != '\r') p++;
  size_t wlen = (size_t)(p - word);
  memset(op, 0, sizeof(*op));

#define WORD_IS(w) (wlen == sizeof(w) - 1 && memcmp(word, w, wlen) == 0)
  if (WORD_IS("new")) {
    op->kind = TRACE_NEW;
    if (!separator(&p) || !parse_u32(&p, TRACE_MAX_SLOTS, &op->a)) {
      snprintf(err, errlen, "new: expected a slot count from 0 to %u", TRACE_MAX_SLOTS);
      return -1;
    }
    if (!separator(&p) || !parse_u32(&p, UINT32_MAX, &op->b)) {
      snprintf(err, errlen, "new: expected max_unused_warm_slots from 0 to %u", UINT32_MAX);
      return -1;
    }
  } else if (WORD_IS("alloc") || WORD_IS("clear")) {
    bool alloc = WORD_IS("alloc");
    op->kind = alloc ? TRACE_ALLOC : TRACE_CLEAR;
    uint32_t number;
    bool has_operand = separator(&p);
    if (has_operand && alloc && p[0] == '-' &&
        (p[1] == '\0' || p[1] == ' ' || p[1] == '\t' || p[1] == '\r')) {
      p++;
      op->a = TRACE_NO_MODULE;
    } else if (has_operand && parse_u32(&p, UINT32_MAX, &number)) {
      op->a = modules_id(m, number);
      if (op->a == UINT32_MAX) {
        snprintf(err, errlen, "out of memory for module numbers");
        return -2;
      }
    } else {
      snprintf(err, errlen, "%s: expected a module number from 0 to %u%s", alloc ? "alloc" : "clear",
               UINT32_MAX, alloc ? " or '-'" : "");
      return -1;
    }
  } else if (WORD_IS("free")) {
    op->kind = TRACE_FREE;
    if (!separator(&p) || !parse_u32(&p, UINT32_MAX - 1, &op->a)) {
      snprintf(err, errlen, "free: expected a slot id");
      return -1;
    }
  } else {
    snprintf(err, errlen, "unknown operation '%s' (expected new, alloc, free or clear)",
             text_quote(word, wlen).s);
    return -1;
  }
#undef WORD_IS
  skip_space(&p);
  if (*p != '\0') {
    snprintf(err, errlen, "unexpected '%s' after the operands", text_quote(p, strlen(p)).s);
    return -1;
  }
  return 1;
}
