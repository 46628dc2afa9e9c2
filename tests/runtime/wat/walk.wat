;; A module of every construct the reader's walk knows (runtime/wasm_code.c):
;; globals of each type, element segments of each encoding, passive data,
;; bulk memory and table instructions, br_table, select with a type. It
;; loads and runs (exit 0) on both backends; fuzz/corpus/wasm/walk.wasm is
;; its binary.
(module
  (type $v (func))
  (type $ii (func (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (table $t0 4 funcref)
  (table $t1 2 externref)
  (memory 1 2)
  (global $a (mut i32) (i32.const -7))
  (global $b i64 (i64.const 0x7fffffffffff))
  (global $c f32 (f32.const 1.5))
  (global $d f64 (f64.const -2.25))
  (global $e funcref (ref.func $f))
  (global $x externref (ref.null extern))
  (elem (i32.const 0) $f $f)
  (elem $p funcref (ref.func $f) (ref.null func))
  (elem declare func $start)
  (elem (table $t0) (i32.const 2) func $f)
  (elem (table $t0) (offset (i32.const 3)) funcref (ref.func $f))
  (elem $q func $f)
  (data (i32.const 16) "active")
  (data $pd "passive bytes")
  (func $f (type $ii)
    (local i64 f32 f64 funcref externref)
    block $out
      loop $l
        local.get 0
        br_table $out $l $out
      end
    end
    local.get 0
    if (result i32) i32.const 1 else i32.const 2 end
    i32.const 3 i32.const 4 local.get 0 select (result i32)
    i32.add)
  (func $start (export "_start")
    i32.const 0 i32.const 0 i32.const 4 memory.init $pd
    data.drop $pd
    i32.const 32 i32.const 16 i32.const 6 memory.copy
    i32.const 64 i32.const 0 i32.const 8 memory.fill
    i32.const 0 i32.const 0 i32.const 1 table.init $t0 $p
    elem.drop $q
    i32.const 0 i32.const 1 i32.const 1 table.copy $t0 $t0
    ref.null func i32.const 1 table.grow $t0 drop
    table.size $t0 drop
    i32.const 0 ref.null func i32.const 1 table.fill $t0
    i32.const 0 table.get $t0 drop
    i32.const 0 ref.func $f table.set $t0
    i32.const 5 i32.const 0 call_indirect (type $ii) drop
    memory.size drop i32.const 0 memory.grow drop
    i32.const 0 i64.load offset=8 align=4 i64.const 1 i64.add drop
    f32.const 1 i32.trunc_sat_f32_s i32.extend8_s drop
    global.get $a i32.const 1 i32.add global.set $a
    i32.const 0 call $exit))
