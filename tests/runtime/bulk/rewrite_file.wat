;; fd_read from a file into iovec 0 (8 bytes), whose buffer is iovec 1's
;; entry ({0x1000, 300000}, more than one piece of 256 KiB): the first
;; system call moves 8 + 262136 bytes and rewrites entry 1 to
;; {0xfffffff0, 0x7fffffff}, past the memory. proc_exit(nread): the read
;; must stop there (262144), never go on from inside the new entry. The
;; file: those 8 bytes, then 300000 more.
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_seek" (func $seek (param i32 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory 8)
  (data (i32.const 0x80) "f")
  (data (i32.const 0x90) "\f0\ff\ff\ff\ff\ff\ff\7f")
  (func $ok (param i32) (if (local.get 0) (then unreachable)))
  (func (export "_start")
    (local $fd i32)
    (call $ok (call $open (i32.const 3) (i32.const 0) (i32.const 0x80) (i32.const 1)
                          (i32.const 9) (i64.const 70) (i64.const 0) (i32.const 0)
                          (i32.const 0x300)))
    (local.set $fd (i32.load (i32.const 0x300)))
    ;; write {0x90, 8} then {0x1000, 300000}
    (i32.store (i32.const 0x100) (i32.const 0x90))
    (i32.store (i32.const 0x104) (i32.const 8))
    (i32.store (i32.const 0x108) (i32.const 0x1000))
    (i32.store (i32.const 0x10c) (i32.const 300000))
    (call $ok (call $write (local.get $fd) (i32.const 0x100) (i32.const 2) (i32.const 0x304)))
    (call $ok (call $seek (local.get $fd) (i64.const 0) (i32.const 0) (i32.const 0x310)))
    ;; read into {0x108, 8} then {0x1000, 300000}
    (i32.store (i32.const 0x100) (i32.const 0x108))
    (i32.store (i32.const 0x104) (i32.const 8))
    (call $ok (call $read (local.get $fd) (i32.const 0x100) (i32.const 2) (i32.const 0x308)))
    (call $exit (i32.load (i32.const 0x308)))))
