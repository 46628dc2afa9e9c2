/* `wpool wasm`: WebAssembly commands per request (docs/cli.md). */
#ifndef WPOOL_TOOL_WASM_H
#define WPOOL_TOOL_WASM_H

/* Arguments after "wasm". Return the exit status: 0 every request exited
 * 0; 1 a request trapped or exited non-zero; 2 bad arguments or module. */
int wasm_main(int argc, char **argv);

#endif
