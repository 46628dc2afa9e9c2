;; A function that only calls itself. At -O2 the C compiler turns the tail
;; call into a jump to itself (`jmp .`): without care the request never
;; ends. It must end with an exhaustion trap.
(module
  (func $f call $f)
  (func (export "_start") call $f))
