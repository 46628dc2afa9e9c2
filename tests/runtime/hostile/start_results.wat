;; _start returning three i64: called as void (*)(void *), its results
;; would be left where the caller does not look (and on some targets a
;; stale register would become the instance pointer). Refused at load.
(module
  (memory 1)
  (func (export "_start") (result i64 i64 i64)
    i64.const 1
    i64.const 2
    i64.const 3))
