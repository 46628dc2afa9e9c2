;; table.fill over a whole table of 10000 funcrefs, for ever: a loop in the
;; generated code itself.
(module
  (table $t 10000 10000 funcref)
  (func $f)
  (elem declare func $f)
  (func (export "_start")
    (loop $again
      (table.fill $t (i32.const 0) (ref.func $f) (i32.const 10000))
      (br $again))))
