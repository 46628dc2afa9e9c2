;; An export whose name ends the comment wasm2c 1.0.32 writes it into
;; (`/* export: '...' */`), defines a constructor that marks the host's
;; environment, and opens a new comment: compiled and loaded, the
;; constructor would run in the host at dlopen. The loader must never let
;; the name reach the C.
(module
  (func (export "_start"))
  (func (export "*/\n#ifndef WRT_PWN\n#define WRT_PWN\nextern int setenv(const char *, const char *, int);\n__attribute__((constructor)) static void wrt_pwn(void) { setenv(\"WRT_PWNED\", \"export\", 1); }\n#endif\n/*")))
