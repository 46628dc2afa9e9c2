;; random_get over 256 MiB,
;; for ever, or once when it has an argument (red team finding P4): one host call
;; whose work the guest chooses.
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $argc (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $rg (param i32 i32) (result i32)))
  (memory 16384)
  (func (export "_start")
    (drop (call $argc (i32.const 0x3ffffff0) (i32.const 0x3ffffff4)))
    (loop $again
      (drop (call $rg (i32.const 0) (i32.const 0x10000000)))
      (br_if $again (i32.lt_u (i32.load (i32.const 0x3ffffff0)) (i32.const 2))))))
