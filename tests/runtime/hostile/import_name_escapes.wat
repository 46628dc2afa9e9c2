;; An import whose names hold a newline, a terminal escape sequence, a
;; quote and a backslash: the loader refuses it (not WASI), and its message
;; must carry the names escaped, never the raw bytes (log lines, HTTP
;; responses and terminals read those messages).
(module
  (import "env\n\1b[31m'" "x\\\00y" (func))
  (func (export "_start")))
