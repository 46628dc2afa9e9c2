;; The smallest WASI command: no memory, no import, _start returns.
(module
  (func (export "_start")))
