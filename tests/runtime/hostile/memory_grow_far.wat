;; memory.grow by 65,535 pages from 1: 4 GiB. Past the runtime's page limit
;; the grow must fail (-1) on both backends, never wrap the size to 0; the
;; guest exits 1 when it did not fail, 0 when it did.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory 1)
  (func (export "_start")
    i32.const 65535
    memory.grow
    i32.const -1
    i32.ne
    call $exit))
