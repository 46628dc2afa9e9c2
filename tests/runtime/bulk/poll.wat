;; poll_oneoff of 13421772 subscriptions (all zero: relative realtime clocks
;; due at once), subscriptions and events filling the 1 GiB memory, for
;; ever, or once when it has an argument (red team finding P4).
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $argc (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $p (param i32 i32 i32 i32) (result i32)))
  (memory 16384)
  (func (export "_start")
    (drop (call $argc (i32.const 0x3ffffff0) (i32.const 0x3ffffff4)))
    (loop $again
      (drop (call $p (i32.const 0) (i32.const 644245056) (i32.const 13421772)
                     (i32.const 1073741760)))
      (br_if $again (i32.lt_u (i32.load (i32.const 0x3ffffff0)) (i32.const 2))))))
