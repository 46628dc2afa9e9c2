;; File I/O in several system calls (at most 256 KiB each since the time
;; limits' fix): writes 623458 bytes of a pattern to file "f" of preopen 3
;; through 3 iovecs, reads it back from the start through 3 iovecs of
;; 700001 bytes (a short read), then 2 iovecs' worth from offset 5
;; (fd_pread); stdout: the three counts (u32), the bytes read, the bytes
;; pread. The pattern: words [0, 1 MiB) set to k * 0x9E3779B1.
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_pread" (func $pread (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_seek" (func $seek (param i32 i64 i32 i32) (result i32)))
  (memory 64)
  (data (i32.const 0x300200) "f")
  (func $iov (param $at i32) (param $buf i32) (param $len i32)
    (i32.store (local.get $at) (local.get $buf))
    (i32.store offset=4 (local.get $at) (local.get $len)))
  (func $ok (param i32) (if (local.get 0) (then unreachable)))
  (func (export "_start")
    (local $k i32) (local $fd i32)
    (block $done (loop $fill
      (br_if $done (i32.ge_u (local.get $k) (i32.const 0x40000)))
      (i32.store (i32.shl (local.get $k) (i32.const 2))
                 (i32.mul (local.get $k) (i32.const 0x9E3779B1)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $fill)))
    ;; CREAT | TRUNC; rights fd_read, fd_seek, fd_write
    (call $ok (call $open (i32.const 3) (i32.const 0) (i32.const 0x300200) (i32.const 1)
                          (i32.const 9) (i64.const 70) (i64.const 0) (i32.const 0)
                          (i32.const 0x300100)))
    (local.set $fd (i32.load (i32.const 0x300100)))
    (call $iov (i32.const 0x300000) (i32.const 0) (i32.const 200000))
    (call $iov (i32.const 0x300008) (i32.const 200000) (i32.const 300001))
    (call $iov (i32.const 0x300010) (i32.const 500001) (i32.const 123457))
    (call $ok (call $write (local.get $fd) (i32.const 0x300000) (i32.const 3) (i32.const 0x300104)))
    (call $ok (call $seek (local.get $fd) (i64.const 0) (i32.const 0) (i32.const 0x300110)))
    (call $iov (i32.const 0x300020) (i32.const 0x100000) (i32.const 1))
    (call $iov (i32.const 0x300028) (i32.const 0x100001) (i32.const 400000))
    (call $iov (i32.const 0x300030) (i32.const 0x161A81) (i32.const 300000))
    (call $ok (call $read (local.get $fd) (i32.const 0x300020) (i32.const 3) (i32.const 0x300108)))
    (call $iov (i32.const 0x300040) (i32.const 0x200000) (i32.const 300000))
    (call $iov (i32.const 0x300048) (i32.const 0x2493E0) (i32.const 400000))
    (call $ok (call $pread (local.get $fd) (i32.const 0x300040) (i32.const 2) (i64.const 5)
                           (i32.const 0x30010c)))
    (call $iov (i32.const 0x300060) (i32.const 0x300104) (i32.const 12))
    (call $iov (i32.const 0x300068) (i32.const 0x100000) (i32.load (i32.const 0x300108)))
    (call $iov (i32.const 0x300070) (i32.const 0x200000) (i32.load (i32.const 0x30010c)))
    (call $ok (call $write (i32.const 1) (i32.const 0x300060) (i32.const 3) (i32.const 0x300110)))))
