/* A tiny SVG plotter for the tool's --plot: panels with axes, lines,
 * bars and points; no dependency. */
#ifndef WPOOL_TOOL_SVG_H
#define WPOOL_TOOL_SVG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct svg_panel {
  FILE *f;
  double x0, y0, w, h;         /* the panel's plot area, pixels */
  double xmin, xmax, ymin, ymax;
  bool xlog, ylog;
} svg_panel_t;

/* Whether `path` can be written (created, or an existing file replaced);
 * else false with a one-line reason in err. Nothing is created. */
bool svg_writable(const char *path, char *err, size_t errlen);
/* Text (titles, labels) may be any string: it is escaped. */
FILE *svg_open(const char *path, int width, int height, const char *title);
/* Finish and close the file; false if any write failed. */
bool svg_close(FILE *f);
/* Start a panel at (x0, y0) of size w x h with the given ranges, draw its
 * frame, ticks and labels. */
void svg_panel(svg_panel_t *p, FILE *f, double x0, double y0, double w, double h, double xmin,
               double xmax, bool xlog, double ymin, double ymax, bool ylog, const char *title,
               const char *xlabel, const char *ylabel);
void svg_polyline(svg_panel_t *p, const double *x, const double *y, size_t n, const char *color);
void svg_bars(svg_panel_t *p, const double *x0, const double *x1, const double *y, size_t n,
              const char *color);
void svg_point(svg_panel_t *p, double x, double y, const char *color, const char *label);
void svg_legend(svg_panel_t *p, int row, const char *color, const char *label);

#endif
