;; 65,536 pages: 4 GiB, the most a 32-bit memory may have. wasm2c 1.0.32's
;; wasm_rt_memory_t.size is a uint32_t, so this memory's size would be 0:
;; the loader must refuse it where the pool's page limit cannot allow it.
(module
  (memory 65536)
  (func (export "_start")
    i32.const 0
    i32.load
    drop))
