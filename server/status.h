/* HTTP status phrases (RFC 9110's reason phrases). */
#ifndef WPOOL_SERVER_STATUS_H
#define WPOOL_SERVER_STATUS_H

/* The standard phrase for `status`, or "Unknown". Static string. */
const char *http_reason(int status);

#endif
