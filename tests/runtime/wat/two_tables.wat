;; Two tables, one of each reference type, with elements, grown and read:
;; table i is the pool's table i.
(module
  (type $r (func (result i32)))
  (table $f 2 10 funcref)
  (table $e 1 externref)
  (elem (table $f) (i32.const 0) func $one $two)
  (func $one (type $r) i32.const 1)
  (func $two (type $r) i32.const 2)
  (func (export "call") (param i32) (result i32)
    local.get 0 call_indirect $f (type $r))
  (func (export "grow_f") (param i32) (result i32)
    ref.null func local.get 0 table.grow $f)
  (func (export "size_f") (result i32) table.size $f)
  (func (export "grow_e") (param externref i32) (result i32)
    local.get 0 local.get 1 table.grow $e)
  (func (export "get_e") (param i32) (result externref)
    local.get 0 table.get $e)
  (func (export "size_e") (result i32) table.size $e))
