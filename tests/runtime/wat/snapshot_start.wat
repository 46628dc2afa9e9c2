;; A start function and wizer.initialize: refused (the start function would
;; run again in every instance started from the snapshot).
(module
  (memory 1)
  (global $g (mut i32) (i32.const 0))
  (func $s (global.set $g (i32.add (global.get $g) (i32.const 1))))
  (start $s)
  (func (export "wizer.initialize") (i32.store (i32.const 0) (global.get $g))))
