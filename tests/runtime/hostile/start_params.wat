;; _start with parameters: it would run with whatever the registers held.
;; Refused at load.
(module
  (memory 1)
  (func (export "_start") (param i32 i64)
    local.get 0
    i32.load
    drop))
