;; An init that copes with a memory.grow the host refuses: it records which
;; way it went (1: refused, 2: grown) and returns normally. A snapshot of
;; the refused way must never be taken, nor cached (test_snapshot.c).
(module
  (memory 1 4)
  (global $mode (mut i32) (i32.const 0))
  (func (export "wizer.initialize")
    (if (i32.eq (memory.grow (i32.const 2)) (i32.const -1))
      (then (global.set $mode (i32.const 1)))
      (else (global.set $mode (i32.const 2)) (i32.store (i32.const 70000) (i32.const 7)))))
  (func (export "get_mode") (result i32) (global.get $mode))
  (func (export "size") (result i32) (memory.size)))
