/* The async stack pool. */
#ifndef WPOOL_STACK_H
#define WPOOL_STACK_H

#include "pool/types.h"

/* Put the guard page below every stack (at create).
 * Return: 0, or WPOOL_ENOMEM / WPOOL_ESYS naming the stack. */
int stack_guard_all(wpool_t *p);

#endif
