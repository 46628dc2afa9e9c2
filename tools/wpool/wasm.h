/* `wpool wasm`: WebAssembly commands per request (docs/cli.md). */
#ifndef WPOOL_TOOL_WASM_H
#define WPOOL_TOOL_WASM_H

/* Arguments after "wasm". Return the exit status: 0 every request exited
 * 0; the first failing request's exit code when it is 1 to 255, else 1 (a
 * trap, another code); 2 bad arguments or module. */
int wasm_main(int argc, char **argv);

#endif
