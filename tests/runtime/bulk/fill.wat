;; memory.fill of 64 MiB, for ever: wasm2c's helper is one memset, so
;; nearly all the time is in libc, where the watchdog's signal cannot end
;; the request (red team finding P3).
(module
  (memory 16384)
  (func (export "_start")
    (loop $again
      (memory.fill (i32.const 0) (i32.const 65) (i32.const 0x4000000))
      (br $again))))
