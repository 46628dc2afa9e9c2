;; fd_write of 65,537 iovecs of 64 KiB each (4 GiB + 64 KiB in all) to
;; stderr. The count is a u32: the call must be a short write that says
;; exactly what it took (UINT32_MAX bytes), never the total modulo 2^32.
;; Exit 0 when nwritten is 0xffffffff, 1 for any other count, 255 for an
;; errno.
(module
 (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
 (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
 (memory 10)
 (func (export "_start") (local $i i32)
   (block $d (loop $l
     (br_if $d (i32.ge_u (local.get $i) (i32.const 65537)))
     (i32.store (i32.add (i32.const 65536) (i32.shl (local.get $i) (i32.const 3))) (i32.const 0))
     (i32.store (i32.add (i32.const 65540) (i32.shl (local.get $i) (i32.const 3))) (i32.const 65536))
     (local.set $i (i32.add (local.get $i) (i32.const 1)))
     (br $l)))
   (if (call $w (i32.const 2) (i32.const 65536) (i32.const 65537) (i32.const 8))
     (then (call $exit (i32.const 255))))
   (call $exit (i32.ne (i32.load (i32.const 8)) (i32.const -1)))))
