;; A WASI command without a memory: _start runs and the request ends with
;; exit code 0; proc_exit needs no memory either.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (func (export "_start")
    i32.const 3
    call $exit))
