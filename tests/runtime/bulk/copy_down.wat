;; memory.copy of 64 MiB to 32 MiB below its source (overlapping), for ever.
(module
  (memory 16384)
  (func (export "_start")
    (loop $again
      (memory.copy (i32.const 0) (i32.const 0x2000000) (i32.const 0x4000000))
      (br $again))))
