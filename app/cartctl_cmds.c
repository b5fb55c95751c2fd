/*
 * cartctl_cmds.c - the commands that call the API: get, add, set, remove,
 * clear, cluster, health, metrics, faults.
 *
 * Each builds one request, sends it, and prints either the server's JSON
 * unchanged (--json, for scripts) or a short text rendering for people.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "app/cartctl.h"

void ctl_append_segment(char *buf, size_t cap, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = strlen(buf);
	for (; *s && o + 4 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    strchr("-._~:@", c)) {
			buf[o++] = (char)c;
		} else {
			buf[o++] = '%';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	buf[o] = '\0';
}

static void print_error(const ctl_opts *o, const ctl_http_response *res)
{
	json_t *v = json_loadb(res->body, res->body_len, 0, NULL);
	json_t *e = json_object_get(v, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));
	if (o->json)
		fwrite(res->body, 1, res->body_len, stdout);
	fprintf(stderr, "cartctl: %s answered %d %s: %s\n", o->peer_text, res->status,
	        code ? code : "error", msg ? msg : res->body);
	json_decref(v);
}

int ctl_request(const ctl_opts *o, const char *method, const char *target, const char *json_body,
                ctl_http_response *res)
{
	char err[256];
	ctl_http_request req = {
		.method = method, .target = target,
		.content_type = json_body ? "application/json" : NULL,
		.body = json_body, .body_len = json_body ? strlen(json_body) : 0,
		.timeout_ms = o->timeout_ms,
	};
	if (ctl_http_do(&o->peer, &req, res, err, sizeof err) != 0) {
		fprintf(stderr, "cartctl: cannot reach %s: %s\n", o->peer_text, err);
		return CTL_FAIL;
	}
	if (res->status >= 400) {
		print_error(o, res);
		ctl_http_response_free(res);
		return CTL_FAIL;
	}
	return CTL_OK;
}

/* Prints a body as received (--json) or hands it back parsed. */
static json_t *body_json(const ctl_opts *o, const ctl_http_response *res)
{
	if (o->json) {
		fwrite(res->body, 1, res->body_len, stdout);
		return NULL;
	}
	json_t *v = json_loadb(res->body, res->body_len, 0, NULL);
	if (!v)
		fprintf(stderr, "cartctl: the answer is not JSON:\n%s\n", res->body);
	return v;
}

static const char *str_or(json_t *v, const char *dflt)
{
	const char *s = json_string_value(v);
	return s ? s : dflt;
}

static void print_cart(json_t *v)
{
	json_t *items = json_object_get(v, "items"), *it;
	size_t i, total = 0, width = 4;
	json_array_foreach(items, i, it) {
		total += (size_t)json_integer_value(json_object_get(it, "qty"));
		size_t w = strlen(str_or(json_object_get(it, "sku"), ""));
		width = w > width ? w : width;
	}
	const char *id = str_or(json_object_get(v, "cart"), "?");
	if (json_array_size(items) == 0)
		printf("cart %s is empty\n", id);
	else
		printf("cart %s: %zu line%s, %zu item%s\n", id, json_array_size(items),
		       json_array_size(items) == 1 ? "" : "s", total, total == 1 ? "" : "s");
	json_array_foreach(items, i, it)
		printf("  %-*s %8lld\n", (int)width, str_or(json_object_get(it, "sku"), "?"),
		       (long long)json_integer_value(json_object_get(it, "qty")));
	printf("token %s\n", str_or(json_object_get(v, "token"), ""));
}

/* Sends a cart request and prints the cart it answers with. */
static int cart_request(const ctl_opts *o, const char *method, const char *target,
                        const char *body)
{
	ctl_http_response res;
	int rc = ctl_request(o, method, target, body, &res);
	if (rc != CTL_OK)
		return rc;
	json_t *v = body_json(o, &res);
	if (v)
		print_cart(v);
	rc = o->json || v ? CTL_OK : CTL_FAIL;
	json_decref(v);
	ctl_http_response_free(&res);
	return rc;
}

static void cart_path(char *buf, size_t cap, const char *cart, const char *sku)
{
	snprintf(buf, cap, "/carts/");
	ctl_append_segment(buf, cap, cart);
	if (sku) {
		strncat(buf, "/items/", cap - strlen(buf) - 1);
		ctl_append_segment(buf, cap, sku);
	}
}

int ctl_cmd_get(const ctl_opts *o, int argc, char **argv)
{
	char path[1024];
	if (argc != 2)
		return ctl_usage_error("usage: get CART");
	cart_path(path, sizeof path, argv[1], NULL);
	return cart_request(o, "GET", path, NULL);
}

/* A whole number for QTY; the server checks the range and says why. */
static int parse_qty(const char *s, long long *out)
{
	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 12)
		return -1;
	*out = strtoll(s, NULL, 10);
	return 0;
}

int ctl_cmd_add(const ctl_opts *o, int argc, char **argv)
{
	bool set = strcmp(argv[0], "set") == 0;
	char path[1024];
	long long qty;
	if (argc != 4)
		return ctl_usage_error("usage: %s CART SKU QTY", argv[0]);
	if (parse_qty(argv[3], &qty) != 0)
		return ctl_usage_error("QTY must be a whole number, not \"%s\"", argv[3]);
	json_t *body = set ? json_pack("{s:I}", "qty", (json_int_t)qty)
	                   : json_pack("{s:s,s:I}", "sku", argv[2], "qty", (json_int_t)qty);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text) {
		fprintf(stderr, "cartctl: SKU must be valid UTF-8 text\n");
		return CTL_USAGE;
	}
	cart_path(path, sizeof path, argv[1], set ? argv[2] : NULL);
	if (!set)
		strncat(path, "/items", sizeof path - strlen(path) - 1);
	int rc = cart_request(o, set ? "PUT" : "POST", path, text);
	free(text);
	return rc;
}

int ctl_cmd_remove(const ctl_opts *o, int argc, char **argv)
{
	bool clear = strcmp(argv[0], "clear") == 0;
	const char *token = NULL, *pos[2] = { NULL, NULL };
	int npos = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--token") == 0 && i + 1 < argc)
			token = argv[++i];
		else if (strncmp(argv[i], "--token=", 8) == 0)
			token = argv[i] + 8;
		else if (argv[i][0] == '-' || npos == 2)
			return ctl_usage_error("usage: %s", clear ? "clear CART [--token T]"
			                                          : "remove CART SKU [--token T]");
		else
			pos[npos++] = argv[i];
	}
	if (npos != (clear ? 1 : 2))
		return ctl_usage_error("usage: %s", clear ? "clear CART [--token T]"
		                                          : "remove CART SKU [--token T]");
	/* Tokens can be long: room for every character escaped. */
	size_t cap = 1024 + (token ? strlen(token) * 3 : 0);
	char *path = malloc(cap);
	if (!path) {
		fprintf(stderr, "cartctl: out of memory\n");
		return CTL_FAIL;
	}
	cart_path(path, cap, pos[0], clear ? NULL : pos[1]);
	if (token) {
		strncat(path, "?token=", cap - strlen(path) - 1);
		ctl_append_segment(path, cap, token);
	}
	int rc = cart_request(o, "DELETE", path, NULL);
	free(path);
	return rc;
}
