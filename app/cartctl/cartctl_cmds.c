/*
 * cartctl_cmds.c - the commands that call the API: get, add, set, remove,
 * clear, checkout (info and faults are in cartctl_info.c).
 *
 * Each builds one request, sends it, and prints either the server's JSON
 * unchanged (--json, for scripts) or a short text rendering for people.
 * A write given --idempotency-key sends it as the Idempotency-Key header;
 * an answer marked Idempotency-Replayed is said to be a replay (on stderr
 * with --json, so that stdout stays the server's JSON).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/cartctl/cartctl.h"
#include "app/shared/idem.h"

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
	return ctl_request_h(o, method, target, json_body, NULL, res);
}

int ctl_request_h(const ctl_opts *o, const char *method, const char *target,
                  const char *json_body, const char *headers, ctl_http_response *res)
{
	char err[256];
	ctl_http_request req = {
		.method = method, .target = target,
		.content_type = json_body ? "application/json" : NULL,
		.body = json_body, .body_len = json_body ? strlen(json_body) : 0,
		.extra_headers = headers,
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

/* "N lines, M items" of an items array, and the widest sku. */
static size_t count_items(json_t *items, size_t *width)
{
	json_t *it;
	size_t i, total = 0;
	json_array_foreach(items, i, it) {
		total += (size_t)json_integer_value(json_object_get(it, "qty"));
		size_t w = strlen(str_or(json_object_get(it, "sku"), ""));
		*width = w > *width ? w : *width;
	}
	return total;
}

static void print_items(json_t *items, size_t width, const char *indent)
{
	json_t *it;
	size_t i;
	json_array_foreach(items, i, it)
		printf("%s%-*s %8lld\n", indent, (int)width, str_or(json_object_get(it, "sku"), "?"),
		       (long long)json_integer_value(json_object_get(it, "qty")));
}

/* "2026-11-30T16:04:05.123Z" of milliseconds since the epoch. */
static void format_ms(json_t *ms, char *buf, size_t cap)
{
	json_int_t v = json_integer_value(ms);
	time_t s = (time_t)(v / 1000);
	struct tm tm;
	if (v < 0 || !gmtime_r(&s, &tm) || strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(buf, cap, "?");
		return;
	}
	size_t n = strlen(buf);
	snprintf(buf + n, cap - n, ".%03dZ", (int)(v % 1000));
}

/* One order: its id, time, and items, then what came out of it later. */
static void print_order(json_t *order, const char *indent)
{
	json_t *items = json_object_get(order, "items");
	json_t *late = json_object_get(order, "late_removed");
	size_t width = 4, total = count_items(items, &width);
	char when[40];
	count_items(late, &width);
	format_ms(json_object_get(order, "at_ms"), when, sizeof when);
	printf("%sorder %s at %s: %zu line%s, %zu item%s%s\n", indent,
	       str_or(json_object_get(order, "id"), "?"), when, json_array_size(items),
	       json_array_size(items) == 1 ? "" : "s", total, total == 1 ? "" : "s",
	       json_is_false(json_object_get(order, "complete")) ? " (not all of it has arrived "
	       "at this peer yet)" : "");
	char sub[16];
	snprintf(sub, sizeof sub, "%s  ", indent);
	print_items(items, width, sub);
	if (json_array_size(late) > 0) {
		printf("%s  removed since (a write the checkout did not see):\n", indent);
		snprintf(sub, sizeof sub, "%s    ", indent);
		print_items(late, width, sub);
	}
}

/* A checked-out cart's orders and the items no order holds. */
static void print_closed(json_t *closed)
{
	json_t *orders = json_object_get(closed, "orders"), *m;
	json_t *late = json_object_get(closed, "late_added");
	size_t i, width = 4;
	printf("checked out (%zu order%s); writes are refused\n", json_array_size(orders),
	       json_array_size(orders) == 1 ? "" : "s");
	json_array_foreach(orders, i, m)
		print_order(m, "  ");
	if (json_array_size(late) > 0) {
		count_items(late, &width);
		printf("  late items (added where the checkout had not arrived; in no order):\n");
		print_items(late, width, "    ");
	}
}

static void print_cart(json_t *v)
{
	json_t *items = json_object_get(v, "items");
	size_t width = 4, total = count_items(items, &width);
	const char *id = str_or(json_object_get(v, "cart"), "?");
	if (json_array_size(items) == 0)
		printf("cart %s is empty\n", id);
	else
		printf("cart %s: %zu line%s, %zu item%s\n", id, json_array_size(items),
		       json_array_size(items) == 1 ? "" : "s", total, total == 1 ? "" : "s");
	print_items(items, width, "  ");
	json_t *closed = json_object_get(v, "closed");
	if (closed)
		print_closed(closed);
	printf("token %s\n", str_or(json_object_get(v, "token"), ""));
}

/* A keyed write's receipt: what was done, not the cart. */
static void print_receipt(json_t *v)
{
	json_t *w = json_object_get(v, "write");
	const char *op = str_or(json_object_get(w, "op"), "?");
	printf("cart %s: %s", str_or(json_object_get(v, "cart"), "?"), op);
	if (json_object_get(w, "sku"))
		printf(" %s", str_or(json_object_get(w, "sku"), "?"));
	if (json_object_get(w, "qty"))
		printf(" %lld", (long long)json_integer_value(json_object_get(w, "qty")));
	printf(" done, idempotency key %s\n", str_or(json_object_get(v, "idempotency_key"), "?"));
}

static void print_answer(json_t *v)
{
	json_t *order = json_object_get(v, "order");
	if (order) {
		printf("cart %s checked out\n", str_or(json_object_get(v, "cart"), "?"));
		print_order(order, "");
	} else if (json_object_get(v, "idempotency_key")) {
		print_receipt(v);
	} else {
		print_cart(v);
	}
}

/* The Idempotency-Key header line for key, as an RFC 8941 string; NULL
 * (after a usage message) for a key the server would refuse. */
static char *key_header(const char *key)
{
	size_t n = strlen(key);
	if (n == 0 || n > IDEM_KEY_MAX) {
		ctl_usage_error("--idempotency-key: 1..%u characters", IDEM_KEY_MAX);
		return NULL;
	}
	char *h = malloc(2 * n + 32), *o = h;
	if (!h) {
		fprintf(stderr, "cartctl: out of memory\n");
		return NULL;
	}
	o += sprintf(o, "Idempotency-Key: \"");
	for (const char *s = key; *s; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) {
			free(h);
			ctl_usage_error("--idempotency-key: printable ASCII only");
			return NULL;
		}
		if (*s == '"' || *s == '\\')
			*o++ = '\\';
		*o++ = *s;
	}
	strcpy(o, "\"\r\n");
	return h;
}

/* Sends a cart request (with an Idempotency-Key when key is not NULL) and
 * prints what it answers: a cart, a receipt or an order. */
static int cart_request_key(const ctl_opts *o, const char *method, const char *target,
                            const char *body, const char *key)
{
	char *hdr = NULL, rv[16];
	if (key && !(hdr = key_header(key)))
		return CTL_USAGE;
	ctl_http_response res;
	int rc = ctl_request_h(o, method, target, body, hdr, &res);
	free(hdr);
	if (rc != CTL_OK)
		return rc;
	bool replayed = ctl_http_header(&res, "Idempotency-Replayed", rv, sizeof rv) &&
	                strcmp(rv, "true") == 0;
	if (replayed && o->json)
		fputs("cartctl: replayed: the answer of an earlier attempt with this "
		      "idempotency key\n", stderr);
	else if (replayed)
		fputs("replayed: an earlier attempt with this idempotency key made the write; "
		      "nothing was applied now\n", stdout);
	json_t *v = res.body_len ? body_json(o, &res) : NULL;
	if (v)
		print_answer(v);
	rc = o->json || v || res.body_len == 0 ? CTL_OK : CTL_FAIL;
	json_decref(v);
	ctl_http_response_free(&res);
	return rc;
}

static int cart_request(const ctl_opts *o, const char *method, const char *target,
                        const char *body)
{
	return cart_request_key(o, method, target, body, NULL);
}

/* Takes "--NAME VALUE" or "--NAME=VALUE" at argv[*i] into *out.  1 if
 * it was that option, 0 if not, -1 if its value is missing. */
static int take_opt(int argc, char **argv, int *i, const char *name, const char **out)
{
	size_t n = strlen(name);
	if (strncmp(argv[*i], name, n) != 0)
		return 0;
	if (argv[*i][n] == '=') {
		*out = argv[*i] + n + 1;
		return 1;
	}
	if (argv[*i][n] != '\0')
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*out = argv[++*i];
	return 1;
}

/* Splits a command's arguments into up to max positional ones and the
 * options --token (if token is not NULL) and --idempotency-key.  -1 for
 * anything else. */
static int split_args(int argc, char **argv, const char **pos, int max, int *npos,
                      const char **token, const char **key)
{
	*npos = 0;
	for (int i = 1; i < argc; i++) {
		int r = take_opt(argc, argv, &i, "--idempotency-key", key);
		if (r == 0 && token)
			r = take_opt(argc, argv, &i, "--token", token);
		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		if ((argv[i][0] == '-' && argv[i][1] != '\0') || *npos == max)
			return -1;
		pos[(*npos)++] = argv[i];
	}
	return 0;
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
	const char *pos[3], *key = NULL;
	int npos;
	if (split_args(argc, argv, pos, 3, &npos, NULL, &key) != 0 || npos != 3)
		return ctl_usage_error("usage: %s CART SKU QTY [--idempotency-key KEY]", argv[0]);
	if (parse_qty(pos[2], &qty) != 0)
		return ctl_usage_error("QTY must be a whole number, not \"%s\"", pos[2]);
	json_t *body = set ? json_pack("{s:I}", "qty", (json_int_t)qty)
	                   : json_pack("{s:s,s:I}", "sku", pos[1], "qty", (json_int_t)qty);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text) {
		fprintf(stderr, "cartctl: SKU must be valid UTF-8 text\n");
		return CTL_USAGE;
	}
	cart_path(path, sizeof path, pos[0], set ? pos[1] : NULL);
	if (!set)
		strncat(path, "/items", sizeof path - strlen(path) - 1);
	int rc = cart_request_key(o, set ? "PUT" : "POST", path, text, key);
	free(text);
	return rc;
}

/* DELETE of an item or a cart, or POST of a checkout, with its token in
 * the query. */
static int token_request(const ctl_opts *o, const char *method, const char *cart,
                         const char *sku, const char *suffix, const char *token,
                         const char *key)
{
	/* Tokens can be long: room for every character escaped. */
	size_t cap = 1024 + (token ? strlen(token) * 3 : 0);
	char *path = malloc(cap);
	if (!path) {
		fprintf(stderr, "cartctl: out of memory\n");
		return CTL_FAIL;
	}
	cart_path(path, cap, cart, sku);
	if (suffix)
		strncat(path, suffix, cap - strlen(path) - 1);
	if (token) {
		strncat(path, "?token=", cap - strlen(path) - 1);
		ctl_append_segment(path, cap, token);
	}
	int rc = cart_request_key(o, method, path, NULL, key);
	free(path);
	return rc;
}

int ctl_cmd_remove(const ctl_opts *o, int argc, char **argv)
{
	bool clear = strcmp(argv[0], "clear") == 0;
	const char *token = NULL, *key = NULL, *pos[2] = { NULL, NULL };
	int npos = 0;
	if (split_args(argc, argv, pos, 2, &npos, &token, &key) != 0 || npos != (clear ? 1 : 2))
		return ctl_usage_error("usage: %s [--token T] [--idempotency-key KEY]",
		                       clear ? "clear CART" : "remove CART SKU");
	return token_request(o, "DELETE", pos[0], clear ? NULL : pos[1], NULL, token, key);
}

int ctl_cmd_checkout(const ctl_opts *o, int argc, char **argv)
{
	const char *token = NULL, *key = NULL, *pos[1] = { NULL };
	int npos = 0;
	if (split_args(argc, argv, pos, 1, &npos, &token, &key) != 0 || npos != 1)
		return ctl_usage_error("usage: checkout CART [--token T] [--idempotency-key KEY]");
	return token_request(o, "POST", pos[0], NULL, "/checkout", token, key);
}
