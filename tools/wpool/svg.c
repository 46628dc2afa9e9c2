#include "svg.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The content of a <text> element, escaped for XML, and its end tag. */
static void text(FILE *f, const char *s) {
  for (; *s; s++) {
    switch (*s) {
    case '&': fputs("&amp;", f); break;
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '"': fputs("&quot;", f); break;
    default:
      /* XML 1.0 admits no control characters but tab and newline. */
      if ((unsigned char)*s < 0x20) fputc('?', f);
      else fputc(*s, f);
    }
  }
  fputs("</text>\n", f);
}

/* Not through a link in the last component: a plot written to a shared
 * directory (/tmp) would otherwise follow a link another user planted
 * there onto a file of this user's. */
FILE *svg_open(const char *path, int width, int height, const char *title) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (!f) {
    if (fd >= 0) close(fd);
    return NULL;
  }
  fprintf(f,
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
          "font-family=\"sans-serif\" font-size=\"12\">\n"
          "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
          "<text x=\"%d\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">",
          width, height, width / 2);
  text(f, title);
  return f;
}

bool svg_writable(const char *path, char *err, size_t errlen) {
  struct stat st;
  if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
    snprintf(err, errlen, "cannot write %s: a symbolic link (name the file it points to)", path);
    return false;
  }
  if (stat(path, &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      snprintf(err, errlen, "cannot write %s: a directory", path);
      return false;
    }
    if (access(path, W_OK) != 0) {
      snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
      return false;
    }
    return true;
  }
  if (errno != ENOENT) {
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return false;
  }
  /* A new file: its directory must take it. */
  char dir[4096];
  const char *slash = strrchr(path, '/');
  size_t n = slash ? (size_t)(slash - path) : 0;
  if (n >= sizeof(dir)) n = sizeof(dir) - 1;
  memcpy(dir, path, n);
  dir[n] = '\0';
  if (access(slash ? (n ? dir : "/") : ".", W_OK | X_OK) != 0) {
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return false;
  }
  return true;
}

bool svg_close(FILE *f) {
  fprintf(f, "</svg>\n");
  bool ok = !ferror(f);
  return fclose(f) == 0 && ok;
}

static double tx(const svg_panel_t *p, double x) {
  double a = p->xlog ? log10(x > 0 ? x : p->xmin) : x;
  double lo = p->xlog ? log10(p->xmin) : p->xmin, hi = p->xlog ? log10(p->xmax) : p->xmax;
  return p->x0 + (hi > lo ? (a - lo) / (hi - lo) : 0.5) * p->w;
}

static double ty(const svg_panel_t *p, double y) {
  double a = p->ylog ? log10(y > 0 ? y : p->ymin) : y;
  double lo = p->ylog ? log10(p->ymin) : p->ymin, hi = p->ylog ? log10(p->ymax) : p->ymax;
  return p->y0 + p->h - (hi > lo ? (a - lo) / (hi - lo) : 0.5) * p->h;
}

static void tick_label(char *buf, size_t len, double v) {
  double a = fabs(v);
  if (a >= 1e9) snprintf(buf, len, "%.3gG", v / 1e9);
  else if (a >= 1e6) snprintf(buf, len, "%.3gM", v / 1e6);
  else if (a >= 1e3) snprintf(buf, len, "%.3gk", v / 1e3);
  else snprintf(buf, len, "%.3g", v);
}

void svg_panel(svg_panel_t *p, FILE *f, double x0, double y0, double w, double h, double xmin,
               double xmax, bool xlog, double ymin, double ymax, bool ylog, const char *title,
               const char *xlabel, const char *ylabel) {
  *p = (svg_panel_t){f, x0, y0, w, h, xmin, xmax, ymin, ymax, xlog, ylog};
  fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
             "stroke=\"#888\"/>\n", x0, y0, w, h);
  fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x0 + w / 2, y0 - 6);
  text(f, title);
  fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x0 + w / 2, y0 + h + 34);
  text(f, xlabel);
  fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
             "transform=\"rotate(-90 %.1f %.1f)\">",
          x0 - 48, y0 + h / 2, x0 - 48, y0 + h / 2);
  text(f, ylabel);
  char buf[32];
  for (int i = 0; i <= 4; i++) {
    double fx = p->xlog ? pow(10, log10(xmin) + (log10(xmax) - log10(xmin)) * i / 4)
                        : xmin + (xmax - xmin) * i / 4;
    double fy = p->ylog ? pow(10, log10(ymin) + (log10(ymax) - log10(ymin)) * i / 4)
                        : ymin + (ymax - ymin) * i / 4;
    tick_label(buf, sizeof(buf), fx);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#444\">%s</text>\n",
            tx(p, fx), y0 + h + 16, buf);
    tick_label(buf, sizeof(buf), fy);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#444\">%s</text>\n",
            x0 - 4, ty(p, fy) + 4, buf);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>\n", x0,
            ty(p, fy), x0 + w, ty(p, fy));
  }
}

void svg_polyline(svg_panel_t *p, const double *x, const double *y, size_t n, const char *color) {
  fprintf(p->f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", color);
  for (size_t i = 0; i < n; i++) fprintf(p->f, "%.1f,%.1f ", tx(p, x[i]), ty(p, y[i]));
  fprintf(p->f, "\"/>\n");
}

void svg_bars(svg_panel_t *p, const double *x0, const double *x1, const double *y, size_t n,
              const char *color) {
  for (size_t i = 0; i < n; i++) {
    if (y[i] <= 0) continue;
    double a = tx(p, x0[i]), b = tx(p, x1[i]), top = ty(p, y[i]);
    fprintf(p->f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n", a,
            top, b - a > 0.5 ? b - a : 0.5, p->y0 + p->h - top, color);
  }
}

void svg_point(svg_panel_t *p, double x, double y, const char *color, const char *label) {
  fprintf(p->f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>\n", tx(p, x), ty(p, y),
          color);
  if (label) {
    fprintf(p->f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"9\" fill=\"#333\">",
            tx(p, x) + 5, ty(p, y) - 4);
    text(p->f, label);
  }
}

void svg_legend(svg_panel_t *p, int row, const char *color, const char *label) {
  double y = p->y0 + 14 + row * 16;
  fprintf(p->f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"10\" fill=\"%s\"/>\n",
          p->x0 + p->w - 150, y - 9, color);
  fprintf(p->f, "<text x=\"%.1f\" y=\"%.1f\">", p->x0 + p->w - 133, y);
  text(p->f, label);
}
