;; A WASI import placed in a table and called through it: wasm2c 1.0.32
;; gives such a funcref the address of the instance's field that holds the
;; import's context, not the context; the runtime's thunk must read it
;; there (it once took the field's address for the context and crashed).
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (type $t (func (param i32)))
  (table 1 funcref)
  (elem (i32.const 0) $exit)
  (memory 1)
  (func (export "_start")
    i32.const 5
    i32.const 0
    call_indirect (type $t)))
