/*
 * metrics.h - GET /metrics: the peer's counters in the Prometheus text
 * exposition format (version 0.0.4).  docs/api.md lists every series.
 *
 * Most numbers are read at scrape time from the node's read models (one
 * node_stats and one member snapshot, app/peer/node_views.h); only what the
 * HTTP layer itself sees, requests and write outcomes, is counted here, in a
 * metrics_http owned by the server.
 */
#ifndef APP_METRICS_H
#define APP_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "app/http/api.h"

/* Status codes with their own label value; anything else is "other". */
#define METRICS_NCODES 13
extern const unsigned metrics_codes[METRICS_NCODES - 1];

/* The cause label values of cartd_datagrams_rejected_total, in order. */
#define METRICS_NCAUSES 17
extern const char *const metrics_reject_causes[METRICS_NCAUSES];

/* Operations of cartd_writes_total: add, set, remove, clear, checkout. */
#define METRICS_NOPS 5

typedef struct metrics_http {
	uint64_t requests[API_R_COUNT][METRICS_NCODES];
	uint64_t writes[METRICS_NOPS][3];  /* by crdt_op_kind: [0] acknowledged, [1] failed,
	                                      [2] a keyed write's replay */
	uint64_t writes_waiting;        /* write requests not answered yet (gauge) */
	uint64_t header_timeouts;       /* connections cut by the header deadline */
	uint64_t body_timeouts;         /* ... and by the body deadline */
} metrics_http;

/* Counts one answered request. */
void metrics_count_request(metrics_http *m, enum api_route r, unsigned status);
/* Counts one finished write (rc as given to the client). */
void metrics_count_write(metrics_http *m, enum crdt_op_kind op, int rc);

/*
 * Renders every series into a new NUL-terminated heap string (*text, *len;
 * the caller frees it).  0 or CARTD_ENOMEM.
 */
int metrics_render(node *n, const metrics_http *m, char **text, size_t *len);

#endif
