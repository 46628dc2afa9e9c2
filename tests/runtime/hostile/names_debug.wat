;; A name section (built with wat2wasm --debug-names) whose module,
;; function, local, global, memory, table, type and segment names hold the
;; end of a C comment: wasm2c makes identifiers of them. The loader drops
;; the name section before translation; the module loads and runs.
(module $m*/x
  (type $ty*/x (func))
  (global $g*/x (mut i32) (i32.const 0))
  (memory $mem*/x 1)
  (table $t*/x 1 funcref)
  (data $d*/x (i32.const 0) "a")
  (elem $e*/x (i32.const 0) $f*/x)
  (func $f*/x (type $ty*/x) (local $l*/x i32)
    (block $b*/x))
  (func (export "_start")
    call $f*/x))
