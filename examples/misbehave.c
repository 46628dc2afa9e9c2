/* misbehave (hostile): a guest that tries to hurt the host or the other
 * guests, chosen by the first argument (the tests of a runtime's stacks,
 * host calls and time limits run it):
 *   frames N [K]  recurse N calls deep, each native frame about 12 KiB (1536
 *                 values loaded from memory and live across the call), then
 *                 print "frames N"; deep enough, the stack runs out. With K,
 *                 first K calls of small frames (which move where the big
 *                 frames fall on the stack's pages)
 *   small N       recurse N calls deep with small frames, then print
 *                 "small N"
 *   write N       write 30 KiB to stdout, recurse N calls deep with small
 *                 frames and write 4 KiB more at the bottom, where the host's
 *                 output buffer grows from 32 to 64 KiB (the allocator
 *                 runs, holding its lock, on what is left of the stack),
 *                 then print "write N"
 *   loop          loop for ever in its own code
 *   stdin         read stdin for ever, past its end (each read is a host
 *                 call that returns 0 bytes)
 *   output        write for ever, 1 byte per call
 *   sleep         sleep an hour (poll_oneoff on a clock: a host call that
 *                 waits) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Read through a volatile array: the compiler keeps each value (it cannot
 * recompute one after the call, which may have written the array). */
volatile uint64_t mem[2048];

#define X2(m, i) m(i##0) m(i##1)
#define X4(m, i) X2(m, i##0) X2(m, i##1)
#define X8(m, i) X4(m, i##0) X4(m, i##1)
#define X16(m, i) X8(m, i##0) X8(m, i##1)
#define X32(m, i) X16(m, i##0) X16(m, i##1)
#define X64(m, i) X32(m, i##0) X32(m, i##1)
#define X128(m, i) X64(m, i##0) X64(m, i##1)
#define X256(m, i) X128(m, i##0) X128(m, i##1)
#define X512(m, i) X256(m, i##0) X256(m, i##1)
#define X1024(m, i) X512(m, i##0) X512(m, i##1)
#define LOAD(i) uint64_t v##i = mem[0b##i & 2047];
#define FOLD(i) s = s * 31 + v##i;

/* 1536 values live at once, loaded after the call: about 12 KiB of native
 * frame once wasm2c's C is compiled (the WebAssembly locals become C
 * locals), of which nothing but the return address is written before the
 * next call. Compiled without stack-clash protection, a call at the end of
 * the stack steps over a guard page into whatever lies below it. */
__attribute__((noinline)) static uint64_t frames(uint32_t n, uint32_t depth) {
  uint64_t s = n + 1 < depth ? frames(n + 1, depth) : n;
  X1024(LOAD, 1) X512(LOAD, 1)
  mem[s & 2047] = s; /* may alias every load: they must all be done first */
  X1024(FOLD, 1) X512(FOLD, 1)
  return s;
}

/* At the bottom: nothing (0), a write (1), or the big frames (2, as deep
 * as mem[2047] says). */
__attribute__((noinline)) static uint64_t small(uint32_t n, uint32_t depth, int bottom) {
  if (bottom == 2 && n + 1 >= depth) return frames(0, (uint32_t)mem[2047]);
  if (n + 1 >= depth) {
    if (bottom == 1) {
      static char more[4096];
      memset(more, 'b', sizeof(more));
      if (write(1, more, sizeof(more)) != (ssize_t)sizeof(more)) abort();
    }
    return mem[n & 2047];
  }
  uint64_t s = small(n + 1, depth, bottom);
  mem[n & 2047] = s ^ n;
  return s + n;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: misbehave MODE [N]\n");
    return 2;
  }
  const char *m = argv[1];
  uint32_t n = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 0;
  if (!strcmp(m, "frames")) {
    uint32_t k = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 0;
    if (k) {
      mem[2047] = n;
      small(0, k, 2);
    } else {
      frames(0, n);
    }
    printf("frames %u\n", n);
  } else if (!strcmp(m, "small")) {
    small(0, n, 0);
    printf("small %u\n", n);
  } else if (!strcmp(m, "write")) {
    static char first[30 << 10];
    memset(first, 'a', sizeof(first));
    if (write(1, first, sizeof(first)) != (ssize_t)sizeof(first)) abort();
    small(0, n, 1);
    printf("write %u\n", n);
  } else if (!strcmp(m, "loop")) {
    for (;;) {
    }
  } else if (!strcmp(m, "stdin")) {
    char b[256];
    for (;;) (void)!read(0, b, sizeof(b));
  } else if (!strcmp(m, "output")) {
    for (;;) (void)!write(1, "x", 1);
  } else if (!strcmp(m, "sleep")) {
    sleep(3600);
    printf("slept\n");
  } else {
    fprintf(stderr, "misbehave: unknown mode %s\n", m);
    return 2;
  }
  return 0;
}
