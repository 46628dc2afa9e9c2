;; Exports named by what C and its preprocessor treat specially: the end
;; of a comment, a line comment, newlines, a trigraph (??/ is a backslash
;; in C with trigraphs, which continues a line), backslashes, quotes, NUL
;; bytes, the empty name, names that look like the runtime's own rewritten
;; names and symbols, and non-ASCII. Each export returns its own number, so
;; a test can call each by its name and see which function ran.
(module
  (func (export "_start"))
  (func (export "*/") (result i32) i32.const 1)
  (func (export "// x") (result i32) i32.const 2)
  (func (export "a\nb\r\n") (result i32) i32.const 3)
  (func (export "??/") (result i32) i32.const 4)
  (func (export "\\") (result i32) i32.const 5)
  (func (export "'\"") (result i32) i32.const 6)
  (func (export "a\00b") (result i32) i32.const 7)
  (func (export "\00") (result i32) i32.const 8)
  (func (export "") (result i32) i32.const 9)
  (func (export "e0") (result i32) i32.const 10)
  (func (export "f1") (result i32) i32.const 11)
  (func (export "Z_guestZ_e2") (result i32) i32.const 12)
  (func (export "wrt_guest_start") (result i32) i32.const 13)
  (func (export "#define x y") (result i32) i32.const 14)
  (func (export "\e2\80\ae\f0\9f\92\a9") (result i32) i32.const 15))
