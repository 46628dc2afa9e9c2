;; table.copy over a whole table of 10000 funcrefs (the default limit of
;; elements), for ever: wasm2c's helper is one memmove.
(module
  (table $t 10000 10000 funcref)
  (func $f)
  (elem (table $t) (i32.const 0) func $f $f $f $f)
  (func (export "_start")
    (loop $again
      (table.copy (i32.const 4) (i32.const 0) (i32.const 9996))
      (table.copy (i32.const 0) (i32.const 4) (i32.const 9996))
      (br $again))))
