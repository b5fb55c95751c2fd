/*
 * api_error.c - responses: JSON error bodies, the mapping of cartd error
 * codes to HTTP statuses, and response ownership.
 *
 * Every error body has one shape, {"error":{"code":..., "message":...}}, so
 * clients switch on the stable code and show the message.  Codes of cartd
 * errors are cartd_errname() names; the HTTP-level ones are listed in
 * docs/api.md.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/http/api_internal.h"
#include "crdt/buf.h"
#include "crdt/error.h"

#define JSON_TYPE "application/json"

/* The body buffer kept for the next body of this thread (the event loop's
 * in cartd): at most one, as bodies are made and sent one at a time. */
static _Thread_local struct {
	char *p;
	size_t cap;
} spare_body;

static void release_body(api_response *res)
{
	if (res->body && res->body_cap && res->body_cap <= API_BODY_KEEP && !spare_body.p) {
		spare_body.p = res->body;
		spare_body.cap = res->body_cap;
	} else {
		free(res->body);
	}
	res->body = NULL;
	res->body_len = 0;
	res->body_cap = 0;
}

void api_body_writer(buf_writer *w)
{
	buf_writer_init(w);
	if (spare_body.p) {
		w->data = (uint8_t *)spare_body.p;
		w->cap = spare_body.cap;
		spare_body.p = NULL;
		spare_body.cap = 0;
	}
}

void api_respond_writer(api_response *res, buf_writer *w, const char *content_type)
{
	buf_put_u8(w, '\0');   /* a C string too, though counted without it */
	w->len--;
	if (w->err) {
		buf_writer_destroy(w);
		api_error_rc(res, CARTD_ENOMEM, NULL);
		return;
	}
	api_respond(res, 200, (char *)w->data, w->len, content_type);
	res->body_cap = w->cap;
}

void api_respond(api_response *res, unsigned status, char *body, size_t len,
                 const char *content_type)
{
	release_body(res);
	res->status = status;
	res->body = body;
	res->body_len = len;
	res->content_type = content_type;
}

void api_respond_json(api_response *res, unsigned status, json_t *v)
{
	/* 12 significant digits: 0.1 prints as 0.1, not 0.10000000000000001. */
	size_t flags = JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(12);
	char *text = v ? json_dumps(v, flags) : NULL;
	json_decref(v);
	if (!text) {
		/* Out of memory while rendering: a static body still tells the
		 * client what happened. */
		static const char oom[] = "{\"error\":{\"code\":\"nomem\",\"message\":\"out of memory\"}}";
		api_respond(res, 500, NULL, 0, JSON_TYPE);
		res->body = malloc(sizeof oom);
		if (res->body) {
			memcpy(res->body, oom, sizeof oom);
			res->body_len = sizeof oom - 1;
		}
		return;
	}
	size_t len = strlen(text);
	/* A trailing newline makes curl output readable; JSON ignores it. */
	char *nl = realloc(text, len + 2);
	if (nl) {
		text = nl;
		text[len++] = '\n';
		text[len] = '\0';
	}
	api_respond(res, status, text, len, JSON_TYPE);
}

void api_error(api_response *res, unsigned status, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* Messages may quote client input (a field name, a cut-off value):
	 * keep them printable ASCII so they are always valid JSON strings. */
	for (char *c = msg; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			*c = '?';
	json_t *v = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
	res->allow = NULL;
	res->retry_after = 0;
	res->applied = NULL;
	api_respond_json(res, v ? status : 500, v);
}

unsigned api_status_of(int rc)
{
	switch (rc) {
	case 0:
		return 200;
	case CARTD_EID: case CARTD_ESKU: case CARTD_EQTY: case CARTD_ELINES:
	case CARTD_ELINEFULL: case CARTD_ETOKENCART: case CARTD_EKEYREUSED:
	case CARTD_EEMPTYCART:
		return 422;
	case CARTD_ETOKEN:
		return 400;
	case CARTD_ETOKENMAC:
		return 403;
	case CARTD_ETOKENKEY: case CARTD_ETOKENFUTURE: case CARTD_ECLOSED:
	case CARTD_ETOKENAHEAD:
		return 409;
	case CARTD_ENOSPC: case CARTD_ESHUTDOWN:
		return 503;
	default:
		return 500;
	}
}

void api_error_rc(api_response *res, int rc, const char *detail)
{
	const char *msg = cartd_strerror(rc);
	if (rc == CARTD_ENOSPC)
		msg = "too many writes waiting for the disk; retry later";
	if (detail && *detail)
		api_error(res, api_status_of(rc), cartd_errname(rc), "%s: %s", detail, msg);
	else
		api_error(res, api_status_of(rc), cartd_errname(rc), "%s", msg);
	if (rc == CARTD_ENOSPC)
		res->retry_after = 1;
}

void api_response_destroy(api_response *res)
{
	if (!res)
		return;
	release_body(res);
}
