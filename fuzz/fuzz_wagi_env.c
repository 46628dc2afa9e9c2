/* Fuzz the mapping of a request to a guest's arguments and environment
 * (server/wagi_env.c). The input is a request as the parser hands it on:
 * lines "method", "path", "query", "host", then "Name:value" fields (names
 * tokens, values without CR, LF or NUL, as llhttp guarantees), an empty
 * line, the body. Every argument is a NUL-terminated string; every
 * variable is KEY=VALUE with KEY of [A-Z0-9_], no KEY twice, no HTTP_ KEY
 * from a name with '_', none of HTTP_CONTENT_TYPE, _LENGTH, _PROXY (a
 * first run found names with other token characters, '%' or '.', made
 * keys: such names are now dropped too). */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wagi.h"

static bool tchar(int c) { return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c)); }

static wagi_call_t call;
static bool ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!ready) {
    wagi_call_init(&call);
    ready = true;
  }
  const char *p = (const char *)data, *end = p + size;
  const char *part[4] = {"GET", "/", NULL, NULL};
  size_t len[4] = {3, 1, 0, 0};
  srv_header_t hs[100];
  size_t nh = 0;
  for (int k = 0; p < end; k++) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
    if (k < 4) {
      part[k] = p;
      len[k] = n;
    } else if (!n) {
      p += 1;
      break;
    } else if (nh < 100) {
      const char *colon = memchr(p, ':', n);
      size_t nl2 = colon ? (size_t)(colon - p) : n;
      bool ok = nl2 > 0;
      for (size_t i = 0; i < nl2; i++) ok = ok && tchar((unsigned char)p[i]);
      for (size_t i = nl2; i < n; i++) ok = ok && p[i] != '\r' && p[i] != 0;
      if (ok)
        hs[nh++] = (srv_header_t){.name = p,
                                  .name_len = nl2,
                                  .value = colon ? colon + 1 : p + n,
                                  .value_len = colon ? n - nl2 - 1 : 0};
    }
    p += n + (nl ? 1 : 0);
  }
  if (!len[1] || part[1][0] != '/' || memchr(part[0], 0, len[0])) return 0;
  char method[32];
  size_t ml = len[0] < sizeof(method) - 1 ? len[0] : sizeof(method) - 1;
  memcpy(method, part[0], ml);
  method[ml] = 0;
  const char *slash = memchr(part[1] + 1, '/', len[1] - 1);
  srv_request_t q = {.method = method,
                     .http_major = 1,
                     .http_minor = 1,
                     .path = part[1],
                     .path_len = len[1],
                     .query = part[2],
                     .query_len = len[2],
                     .host = len[3] ? part[3] : NULL,
                     .host_len = len[3],
                     .rest = slash ? slash : part[1] + len[1],
                     .headers = hs,
                     .nheaders = nh,
                     .body = p < end ? p : "",
                     .body_len = (size_t)(end - p),
                     .remote_addr = "127.0.0.1",
                     .server_host = "127.0.0.1",
                     .server_port = 80};
  q.rest_len = len[1] - (size_t)(q.rest - part[1]);
  wagi_module_t m = {.name = "fuzz"};
  wrt_request_t w;
  int st = wagi_env(&call, &m, false, &q, &w);
  if (st == 500) abort(); /* nothing here is out of memory */
  if (st) return 0;
  if (!w.argc || strcmp(w.argv[0], "fuzz")) abort();
  for (uint32_t i = 0; i < w.envc; i++) {
    const char *e = w.envp[i], *eq = strchr(e, '=');
    if (!eq || eq == e) abort();
    for (const char *k = e; k < eq; k++)
      if (!isupper((unsigned char)*k) && !isdigit((unsigned char)*k) && *k != '_') abort();
    for (uint32_t j = 0; j < i; j++)
      if (!strncmp(w.envp[j], e, (size_t)(eq - e) + 1)) abort(); /* a KEY twice */
    if (!strncmp(e, "HTTP_CONTENT_TYPE=", 18) || !strncmp(e, "HTTP_CONTENT_LENGTH=", 20) ||
        !strncmp(e, "HTTP_PROXY=", 11))
      abort();
  }
  for (size_t i = 0; i < nh; i++) {
    if (!memchr(hs[i].name, '_', hs[i].name_len)) continue;
    /* Its HTTP_ name may exist only from a field with '-' instead. */
    char key[128] = "HTTP_";
    size_t k = 5;
    for (size_t c = 0; c < hs[i].name_len && k < sizeof(key) - 2; c++)
      key[k++] = hs[i].name[c] == '-' ? '_' : (char)toupper((unsigned char)hs[i].name[c]);
    key[k++] = '=';
    key[k] = 0;
    for (uint32_t j = 0; j < w.envc; j++) {
      if (strncmp(w.envp[j], key, k)) continue;
      bool dashed = false;
      for (size_t o = 0; o < nh; o++)
        dashed = dashed ||
                 (hs[o].name_len == hs[i].name_len && !memchr(hs[o].name, '_', hs[o].name_len) &&
                  memchr(hs[o].name, '-', hs[o].name_len));
      if (!dashed) abort();
    }
  }
  return 0;
}
