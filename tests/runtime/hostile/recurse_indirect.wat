;; Recursion through the table: call_indirect in tail position.
(module
  (type $t (func (param i32) (result i32)))
  (table 1 funcref)
  (elem (i32.const 0) $f)
  (func $f (type $t)
    local.get 0
    i32.const 1
    i32.add
    i32.const 0
    call_indirect (type $t))
  (func (export "_start")
    i32.const 0
    call $f
    drop))
