/* template: render a built-in page (over 100 KiB of template text in the
 * module's data segment) with variables read from standard input as
 * KEY=VALUE lines. {{key}} is replaced by the value (empty when unknown),
 * {{#}} by the section's number. Prints the rendered size, an FNV-1a hash
 * of it, the substitution count, and the rendered first section. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECTION                                                                          \
  "<section class=\"card\" id=\"s{{#}}\">\n"                                             \
  "  <header><h2>{{title}} &mdash; part {{#}}</h2><p class=\"by\">for {{user}}</p></header>\n" \
  "  <p>Dear {{user}}, this is part {{#}} of {{title}}. Your plan is {{plan}}, billed\n"   \
  "  {{period}}; the next renewal falls on {{renewal}}. If any of this looks wrong,\n"   \
  "  reply to this message and quote reference {{ref}}-{{#}}.</p>\n"                     \
  "  <table class=\"usage\">\n"                                                          \
  "    <tr><th>resource</th><th>used</th><th>quota</th><th>region</th></tr>\n"           \
  "    <tr><td>requests</td><td>{{requests}}</td><td>{{quota}}</td><td>{{region}}</td></tr>\n" \
  "    <tr><td>storage</td><td>{{storage}}</td><td>{{storage_quota}}</td><td>{{region}}</td></tr>\n" \
  "    <tr><td>egress</td><td>{{egress}}</td><td>{{egress_quota}}</td><td>{{region}}</td></tr>\n" \
  "  </table>\n"                                                                         \
  "  <ul class=\"links\">\n"                                                             \
  "    <li><a href=\"https://example.invalid/{{user}}/billing?part={{#}}\">billing</a></li>\n" \
  "    <li><a href=\"https://example.invalid/{{user}}/usage?part={{#}}\">usage</a></li>\n"  \
  "    <li><a href=\"https://example.invalid/{{user}}/settings?part={{#}}\">settings</a></li>\n" \
  "  </ul>\n"                                                                            \
  "  <footer>Generated for {{user}} in {{region}} &middot; {{title}} &middot; {{#}}</footer>\n" \
  "</section>\n"
#define R2(x) x x
#define R4(x) R2(R2(x))
#define R16(x) R4(R4(x))
#define R64(x) R4(R16(x))

static const char page[] = R64(SECTION) R2(R16(SECTION));

typedef struct var {
  char *key, *value;
} var_t;

int main(void) {
  var_t vars[64];
  int nvars = 0;
  char line[1024];
  while (nvars < 64 && fgets(line, sizeof(line), stdin)) {
    line[strcspn(line, "\r\n")] = 0;
    char *eq = strchr(line, '=');
    if (!eq) continue;
    *eq = 0;
    vars[nvars].key = strdup(line);
    vars[nvars].value = strdup(eq + 1);
    nvars++;
  }
  size_t cap = sizeof(page) * 2, n = 0;
  char *out = malloc(cap);
  long subs = 0, section = 0;
  size_t first_end = 0;
  for (const char *p = page; *p;) {
    const char *v = NULL;
    char num[16];
    size_t skip = 1, vlen = 0;
    if (p[0] == '{' && p[1] == '{') {
      const char *end = strstr(p, "}}");
      size_t klen = (size_t)(end - p - 2);
      skip = klen + 4;
      subs++;
      if (klen == 1 && p[2] == '#') {
        snprintf(num, sizeof(num), "%ld", section);
        v = num;
      } else {
        v = "";
        for (int i = 0; i < nvars; i++)
          if (strlen(vars[i].key) == klen && !strncmp(vars[i].key, p + 2, klen)) v = vars[i].value;
      }
      vlen = strlen(v);
    } else {
      v = p;
      vlen = 1;
      if (!strncmp(p, "</section>\n", 11)) {
        section++;
        if (!first_end) first_end = n + 11;
      }
    }
    if (n + vlen + 1 > cap) out = realloc(out, cap *= 2);
    memcpy(out + n, v, vlen);
    n += vlen;
    p += skip;
  }
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)out[i]) * 16777619u;
  printf("template %zu bytes, %ld sections, %ld substitutions, rendered %zu bytes, fnv1a %08x\n",
         sizeof(page) - 1, section, subs, n, h);
  fwrite(out, 1, first_end, stdout);
  for (int i = 0; i < nvars; i++) free(vars[i].key), free(vars[i].value);
  free(out);
  return 0;
}
