;; fd_write to stdout of 134217727 iovecs, the whole 1 GiB memory (all
;; zero: {buf 0, len 0} each),
;; for ever, or once when it has an argument (red team finding P4).
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $argc (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory 16384)
  (func (export "_start")
    (drop (call $argc (i32.const 0x3ffffff0) (i32.const 0x3ffffff4)))
    (loop $again
      (drop (call $w (i32.const 1) (i32.const 0) (i32.const 134217727) (i32.const 0x3ffffff8)))
      (br_if $again (i32.lt_u (i32.load (i32.const 0x3ffffff0)) (i32.const 2))))))
