/* trap (hostile): does one thing that a WebAssembly runtime must stop,
 * chosen by the first argument, then prints what it read (which a correct
 * runtime never lets it print).
 *   oob-low       read 2 GiB: under 4 GiB, past the memory's pages
 *   oob-edge      a 4-byte read straddling the end of the accessible bytes
 *   oob-offset    a load with a static offset near 4 GiB from an address
 *                 near 4 GiB: about 8 GiB past the base
 *   oob-straddle  an 8-byte load from base + 8 GiB - 4 (offset 2^32 - 1):
 *                 it straddles where a reservation of exactly 8 GiB ends
 *   oob-max       the farthest access: 8 bytes from base + 8 GiB - 2
 *   oob-store     a store 6 GiB past the base (a neighbour's bytes if the
 *                 guard were 2 GiB)
 *   unreachable   abort()
 *   div0          integer division by zero
 *   overflow      INT_MIN / -1
 *   stack         unbounded recursion (the call stack runs out)
 *   stack-shadow  unbounded recursion with frames in linear memory: the
 *                 shadow stack runs below address 0 (out of bounds)
 *   indirect      a call through a function pointer of the wrong type
 *   exit7         no trap: exit(7) */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Opaque to the optimiser, so every address and operand below stays a run
 * time value. */
static uintptr_t opaque(uintptr_t v) {
  __asm__ volatile("" : "+r"(v));
  return v;
}

struct far {
  char pad[0xFFFFFF00u];
  uint32_t x;
};

/* An 8-byte load at `addr` with the largest static offset, 2^32 - 1: C
 * cannot express it (clang folds offsets only where no wrap is possible),
 * so it is written in WebAssembly. */
static uint64_t far_load(uint32_t addr) {
  uint64_t v;
  __asm__ volatile("local.get %1\n\ti64.load 4294967295\n\tlocal.set %0" : "=r"(v) : "r"(addr));
  return v;
}

static int recurse(volatile int *depth) {
  if (*depth < 0) return 0; /* never: keeps the recursion unbounded but not "infinite" to the compiler */
  volatile char frame[256];
  frame[0] = (char)*depth;
  (*depth)++;
  return recurse(depth) + frame[0];
}

/* Recursion in WebAssembly locals only (nothing on the shadow stack in
 * linear memory), so the native stack that runs the generated code is what
 * runs out: the runtime must report exhaustion. */
__attribute__((noinline)) static uint32_t deep(uint32_t n) {
  if (n == 0xFFFFFFFFu) return 0;
  uint32_t r = deep((uint32_t)opaque(n + 1));
  return (r ^ (r >> 1)) + n;
}

static int one(int x) { return x + 1; }

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: trap MODE\n");
    return 2;
  }
  const char *m = argv[1];
  uint64_t got = 0;
  if (!strcmp(m, "oob-low")) {
    got = *(volatile uint32_t *)opaque(0x80000000u);
  } else if (!strcmp(m, "oob-edge")) {
    size_t end = (size_t)__builtin_wasm_memory_size(0) * 65536;
    got = *(volatile uint32_t *)opaque(end - 2);
  } else if (!strcmp(m, "oob-offset")) {
    volatile struct far *f = (volatile struct far *)opaque(0xFFFFFFF0u);
    got = f->x; /* i32.load offset=0xffffff00 from 0xfffffff0 */
  } else if (!strcmp(m, "oob-straddle")) {
    got = far_load((uint32_t)opaque(0xFFFFFFFDu)); /* bytes 2^33 - 4 .. 2^33 + 3 */
  } else if (!strcmp(m, "oob-max")) {
    got = far_load((uint32_t)opaque(0xFFFFFFFFu)); /* the farthest: 2^33 - 2 .. 2^33 + 5 */
  } else if (!strcmp(m, "oob-store")) {
    struct far6 {
      char pad[0x7FFFFF00u];
      uint32_t x;
    };
    volatile struct far6 *f = (volatile struct far6 *)opaque(0xFFFFFFF0u);
    f->x = 0x5a5a5a5au; /* 4 GiB + 2 GiB past the base */
  } else if (!strcmp(m, "unreachable")) {
    abort();
  } else if (!strcmp(m, "div0")) {
    got = (uint64_t)(100 / (int)opaque(0));
  } else if (!strcmp(m, "overflow")) {
    got = (uint64_t)(INT_MIN / (int)opaque((uintptr_t)-1));
  } else if (!strcmp(m, "stack")) {
    got = deep(0);
  } else if (!strcmp(m, "stack-shadow")) {
    volatile int depth = 0;
    got = (uint64_t)recurse(&depth);
  } else if (!strcmp(m, "indirect")) {
    void (*f)(void) = (void (*)(void))opaque((uintptr_t)one);
    f();
  } else if (!strcmp(m, "exit7")) {
    exit(7);
  } else {
    fprintf(stderr, "trap: unknown mode %s\n", m);
    return 2;
  }
  printf("not trapped: read %llu\n", (unsigned long long)got);
  return 0;
}
