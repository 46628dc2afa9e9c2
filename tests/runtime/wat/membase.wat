;; The memory's base held in a local by the compile (runtime/transform_base.c):
;; accesses after memory.grow, in the function that grew and in a caller
;; that read the base before its callee grew; accesses of several widths
;; over the same bytes; accesses past the accessible bytes, which trap.
(module
  (memory 1 4)
  (func $grow (result i32) i32.const 1 memory.grow)
  ;; Writes v at the last word of page 0, v + 1 in page 1 (grown by a
  ;; call) and v + 2 in page 2 (grown here); returns their sum read back.
  (func (export "grow_then_access") (param $v i32) (result i32)
    i32.const 65532 local.get $v i32.store
    call $grow drop
    i32.const 65540 local.get $v i32.const 1 i32.add i32.store
    i32.const 1 memory.grow drop
    i32.const 131076 local.get $v i32.const 2 i32.add i32.store
    i32.const 65532 i32.load
    i32.const 65540 i32.load i32.add
    i32.const 131076 i32.load i32.add)
  ;; Stores v (8 bytes) at a, then 0x80 at a + 1; returns load16_s(a) +
  ;; load32_u(a + 2) + load8_s(a + 1), as i64.
  (func (export "mixed") (param $a i32) (param $v i64) (result i64)
    local.get $a local.get $v i64.store
    local.get $a i32.const 0x80 i32.store8 offset=1
    local.get $a i64.load16_s
    local.get $a i64.load32_u offset=2
    i64.add
    local.get $a i32.load8_s offset=1 i64.extend_i32_s i64.add)
  (func (export "load") (param i32) (result i32) local.get 0 i32.load)
  (func (export "store") (param i32 i32) local.get 0 local.get 1 i32.store)
  (func (export "load_far") (param i32) (result i32) local.get 0 i32.load offset=65536)
  (func (export "size") (result i32) memory.size))
