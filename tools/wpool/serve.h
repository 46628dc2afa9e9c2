/* `wpool serve`: an HTTP/1.1 server that runs a WebAssembly command per
 * request on the runtime's pool, WAGI conventions (docs/serve.md). The
 * command (serve.c) parses its options and wires the server component
 * (server/) to the runtime. */
#ifndef WPOOL_TOOL_SERVE_H
#define WPOOL_TOOL_SERVE_H

int serve_main(int argc, char **argv);

#endif
