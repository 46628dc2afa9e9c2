;; fd_read from stdin into iovec 0, whose buffer is iovec 1's entry: the
;; read rewrites entry 1 (stdin's first 8 bytes: {0xfffffff0, 100}, past
;; the memory; 8 more bytes follow) before the runtime reads it. proc_exit(nread): the read
;; must stop there (8), never copy to where the new entry points.
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory 1)
  (func (export "_start")
    (i32.store (i32.const 0x100) (i32.const 0x108))
    (i32.store (i32.const 0x104) (i32.const 8))
    (i32.store (i32.const 0x108) (i32.const 0x200))
    (i32.store (i32.const 0x10c) (i32.const 4))
    (drop (call $read (i32.const 0) (i32.const 0x100) (i32.const 2) (i32.const 0x300)))
    (call $exit (i32.load (i32.const 0x300)))))
