/*
 * api_internal.h - pieces shared by the api_*.c files: path and query
 * parsing, JSON body helpers.  Not for use outside the API layer (and its
 * unit tests).
 */
#ifndef APP_API_INTERNAL_H
#define APP_API_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/http/api.h"
#include "crdt/buf.h"

/* Which methods a route allows, as bits, and as an Allow header value. */
enum {
	API_M_GET = 1, API_M_POST = 2, API_M_PUT = 4, API_M_DELETE = 8, API_M_HEAD = 16
};
unsigned api_method_bit(const char *method);
unsigned api_route_methods(enum api_route r);
const char *api_route_allow(enum api_route r);

/* A slice of the request target. */
typedef struct api_span {
	const char *p;
	size_t len;
} api_span;

/*
 * Matches a raw path (no query) against the routes.  Returns the route
 * (API_R_UNKNOWN if none) and the raw, still escaped cart and sku segments.
 * API_R_FAULTS is matched whether or not fault routes are enabled.
 */
enum api_route api_match_path(const char *path, size_t len, api_span *cart, api_span *sku);

/*
 * Percent-decodes s into out (cap bytes, NUL added).  Returns 0, -1 for a
 * malformed escape ('%' not followed by two hex digits) or -2 when the
 * result (plus NUL) does not fit.  '+' is not special.
 */
int api_pct_decode(const char *s, size_t len, char *out, size_t cap, size_t *out_len);

/*
 * Iterates key=value pairs of a query string (split on '&'; empty pairs
 * skipped).  *pos starts at 0.  Returns false at the end.  A pair without
 * '=' has an empty value with val.p == NULL.
 */
bool api_query_next(api_span q, size_t *pos, api_span *key, api_span *val);

/*
 * Body helpers.  Each returns 0, or fills res with the error and returns -1.
 *
 * api_body_json: requires a body with Content-Type application/json (415
 *   otherwise; a missing body when required is 422 "missing_body"), parses
 *   it (400 bad_json; duplicate keys are malformed) and requires an object
 *   (422 bad_body).  *out is a new reference, or NULL when the body is
 *   empty and not required.
 * api_body_fields: every key of obj must be in the NULL-terminated list
 *   (422 unknown_field naming the key).
 */
int api_body_json(const api_request *req, bool required, json_t **out, api_response *res);
int api_body_fields(json_t *obj, const char *const *allowed, api_response *res);
/* Integer field in [min, max]: 422 with code (e.g. "bad_qty") naming the
 * field when it is absent (and required), not an integer, or out of range. */
int api_field_uint(json_t *obj, const char *field, const char *code, uint32_t min,
                   uint32_t max, bool required, bool *present, uint32_t *out, api_response *res);
/* Number field in [min, max] (integers accepted), likewise. */
int api_field_num(json_t *obj, const char *field, double min, double max, bool *present,
                  double *out, api_response *res);

/*
 * Reads an add body ({"sku":..., "qty":...}, with_sku) or a set body
 * ({"qty":...}) in its plain form (api_fastbody.c) into call, with qty in
 * min_qty..CRDT_MAX_QTY.  False, with call untouched, for anything else:
 * the caller then parses with jansson, which decides the answer.
 */
bool api_fast_body(const char *body, size_t len, bool with_sku, uint32_t min_qty,
                   api_call *call);

/* Is content_type application/json (parameters such as charset allowed)? */
bool api_is_json_type(const char *content_type);

/*
 * A growable writer for a response body that starts in the body buffer the
 * last response of this thread gave back (api_response_destroy keeps one,
 * up to API_BODY_KEEP bytes), so that answering does not allocate: a
 * 50-line cart's body is past malloc's per-thread cache, and every such
 * allocation made malloc consolidate its fast bins.  Hand the result to
 * api_respond_writer.
 */
#define API_BODY_KEEP ((size_t)64 << 10)
void api_body_writer(buf_writer *w);
/* Makes w's bytes (NUL-terminated here, not counted) the response body
 * with status 200 and content_type, or answers nomem if w failed. */
void api_respond_writer(api_response *res, buf_writer *w, const char *content_type);

/* Takes a jansson value (reference stolen) and makes it the response body. */
void api_respond_json(api_response *res, unsigned status, json_t *v);

/* Lower-case hex of a 64-bit id, 16 digits, into buf (>= 17 bytes). */
void api_hex64(uint64_t v, char *buf);
/* Parses 1..16 hex digits (either case).  0 or -1. */
int api_parse_hex64(const char *s, size_t len, uint64_t *out);

/* Parses the POST /admin/faults body (already an object) into ch. */
int api_parse_faults(json_t *obj, api_fault_change *ch, api_response *res);

/* Handlers that need the peer (api_cluster.c, api_faults.c). */
void api_cluster_respond(node *n, bool want_health, api_response *res);
void api_faults_respond(node *n, const api_call *call, api_response *res);

#endif
