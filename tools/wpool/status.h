/* The exit statuses of `wpool` (docs/cli.md), which the functions behind
 * its commands return too: one rule for every command. */
#ifndef WPOOL_TOOL_STATUS_H
#define WPOOL_TOOL_STATUS_H

enum tool_status {
  TOOL_OK = 0,
  /* The run could not complete (out of memory, descriptors, a system call
   * failed; an instance saw a stale byte; output could not be written), or
   * `plan` found that the configuration does not fit this host. */
  TOOL_FAILED = 1,
  /* Bad input: an argument, a file, a workload line, or a configuration
   * (wpool_create's WPOOL_EINVAL), or a workload whose modules do not fit
   * the configuration (WPOOL_ELIMIT). */
  TOOL_BAD_INPUT = 2,
};

#endif
