;; memory.fill and memory.copy of 256 bytes (the longest the runtime leaves
;; to libc, RT_BULK_INLINE_MAX) of lengths the compiler cannot see, for
;; ever: the time in libc must not hide the loop from the watchdog.
(module
  (memory 1)
  (func (export "_start")
    (local $n i32)
    (local.set $n (i32.add (i32.const 256) (memory.size)))
    (local.set $n (i32.sub (local.get $n) (i32.const 1)))
    (loop $again
      (memory.fill (i32.const 0) (i32.const 65) (local.get $n))
      (memory.copy (i32.const 512) (i32.const 0) (local.get $n))
      (br $again))))
