;; The same payload as names_inject.wat, in an import's names: refused
;; before translation (not a WASI function), nothing runs.
(module
  (import "wasi_snapshot_preview1" "*/\n__attribute__((constructor)) static void wrt_pwn(void) { extern int setenv(const char *, const char *, int); setenv(\"WRT_PWNED\", \"import\", 1); }\n/*" (func))
  (func (export "_start")))
