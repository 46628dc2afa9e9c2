;; The bulk operations' results, for test_bulk.c to compare with memmove and
;; memset: words [0, 2 MiB) are set to k * 0x9E3779B1 (k the word's index),
;; then the operations stdin lists are applied in order, then the 2 MiB are
;; written to stdout. stdin: u32 count, then count entries of u32
;; {op (0 memory.copy, 1 memory.fill), a (destination), b (source, or the
;; fill's byte), n}, at most 4095 entries.
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory 64)
  (func (export "_start")
    (local $k i32) (local $e i32) (local $end i32)
    ;; stdin to 0x300010 (the iovec and the count written at 0x300000)
    (i32.store (i32.const 0x300000) (i32.const 0x300010))
    (i32.store (i32.const 0x300004) (i32.const 0x10000))
    (drop (call $read (i32.const 0) (i32.const 0x300000) (i32.const 1) (i32.const 0x300008)))
    (block $done (loop $fill
      (br_if $done (i32.ge_u (local.get $k) (i32.const 0x80000)))
      (i32.store (i32.shl (local.get $k) (i32.const 2))
                 (i32.mul (local.get $k) (i32.const 0x9E3779B1)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $fill)))
    (local.set $e (i32.const 0x300014))
    (local.set $end (i32.add (local.get $e)
                             (i32.shl (i32.load (i32.const 0x300010)) (i32.const 4))))
    (block $ops (loop $op
      (br_if $ops (i32.ge_u (local.get $e) (local.get $end)))
      (if (i32.eqz (i32.load (local.get $e)))
        (then (memory.copy (i32.load offset=4 (local.get $e)) (i32.load offset=8 (local.get $e))
                           (i32.load offset=12 (local.get $e))))
        (else (memory.fill (i32.load offset=4 (local.get $e)) (i32.load offset=8 (local.get $e))
                           (i32.load offset=12 (local.get $e)))))
      (local.set $e (i32.add (local.get $e) (i32.const 16)))
      (br $op)))
    (i32.store (i32.const 0x300000) (i32.const 0))
    (i32.store (i32.const 0x300004) (i32.const 0x200000))
    (drop (call $write (i32.const 1) (i32.const 0x300000) (i32.const 1) (i32.const 0x300008)))))
