/* hello: almost nothing. The smallest real request: start, one line out. */
#include <stdio.h>

int main(void) {
  fputs("hello, world\n", stdout);
  return 0;
}
