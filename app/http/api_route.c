/*
 * api_route.c - routing: the route table, method sets, and the decoding of
 * raw path segments and query strings.
 *
 * The transport hands over the raw request target, never a decoded one,
 * because decoding first would let "%2F" inside a cart id split a segment.
 * Segments are matched raw and percent-decoded one by one afterwards.
 */
#include <string.h>

#include "app/http/api_internal.h"

static const struct {
	const char *name;
	unsigned methods;
	const char *allow;
} routes[API_R_COUNT] = {
	[API_R_UNKNOWN] = { "unknown", 0, NULL },
	[API_R_CART] = { "cart", API_M_GET | API_M_HEAD | API_M_DELETE, "GET, HEAD, DELETE" },
	[API_R_ITEMS] = { "items", API_M_POST, "POST" },
	[API_R_ITEM] = { "item", API_M_PUT | API_M_DELETE, "PUT, DELETE" },
	[API_R_CHECKOUT] = { "checkout", API_M_POST, "POST" },
	[API_R_CLUSTER] = { "cluster", API_M_GET | API_M_HEAD, "GET, HEAD" },
	[API_R_HEALTH] = { "health", API_M_GET | API_M_HEAD, "GET, HEAD" },
	[API_R_METRICS] = { "metrics", API_M_GET | API_M_HEAD, "GET, HEAD" },
	[API_R_FAULTS] = { "faults", API_M_GET | API_M_HEAD | API_M_POST | API_M_DELETE,
	                   "GET, HEAD, POST, DELETE" },
};

const char *api_route_name(enum api_route r)
{
	return (unsigned)r < API_R_COUNT ? routes[r].name : "unknown";
}

unsigned api_route_methods(enum api_route r)
{
	return (unsigned)r < API_R_COUNT ? routes[r].methods : 0;
}

const char *api_route_allow(enum api_route r)
{
	return (unsigned)r < API_R_COUNT ? routes[r].allow : NULL;
}

unsigned api_method_bit(const char *m)
{
	static const struct { const char *name; unsigned bit; } tab[] = {
		{ "GET", API_M_GET }, { "POST", API_M_POST }, { "PUT", API_M_PUT },
		{ "DELETE", API_M_DELETE }, { "HEAD", API_M_HEAD },
	};
	for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
		if (strcmp(m, tab[i].name) == 0)
			return tab[i].bit;
	return 0;
}

/* Splits at most max segments of path ("/a/b/c") into seg; returns the
 * count, or max + 1 when there are more. */
static size_t split(const char *path, size_t len, api_span *seg, size_t max)
{
	size_t n = 0, i = 1;
	if (len == 0 || path[0] != '/')
		return max + 1;
	while (i <= len) {
		const char *slash = memchr(path + i, '/', len - i);
		size_t end = slash ? (size_t)(slash - path) : len;
		if (n == max)
			return max + 1;
		seg[n].p = path + i;
		seg[n].len = end - i;
		n++;
		i = end + 1;
	}
	return n;
}

static bool seg_is(api_span s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

enum api_route api_match_path(const char *path, size_t len, api_span *cart, api_span *sku)
{
	api_span seg[4];
	size_t n = split(path, len, seg, 4);

	if (n == 1 && seg_is(seg[0], "cluster"))
		return API_R_CLUSTER;
	if (n == 1 && seg_is(seg[0], "health"))
		return API_R_HEALTH;
	if (n == 1 && seg_is(seg[0], "metrics"))
		return API_R_METRICS;
	if (n == 2 && seg_is(seg[0], "admin") && seg_is(seg[1], "faults"))
		return API_R_FAULTS;
	if (n < 2 || n > 4 || !seg_is(seg[0], "carts"))
		return API_R_UNKNOWN;
	*cart = seg[1];
	if (n == 2)
		return API_R_CART;
	if (n == 3 && seg_is(seg[2], "checkout"))
		return API_R_CHECKOUT;
	if (!seg_is(seg[2], "items"))
		return API_R_UNKNOWN;
	if (n == 3)
		return API_R_ITEMS;
	*sku = seg[3];
	return API_R_ITEM;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int api_pct_decode(const char *s, size_t len, char *out, size_t cap, size_t *out_len)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '%') {
			if (len - i < 3)
				return -1;
			int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			c = (char)(h << 4 | l);
			i += 2;
		}
		if (o + 1 >= cap)
			return -2;
		out[o++] = c;
	}
	out[o] = '\0';
	*out_len = o;
	return 0;
}

bool api_query_next(api_span q, size_t *pos, api_span *key, api_span *val)
{
	while (*pos < q.len) {
		const char *start = q.p + *pos;
		const char *amp = memchr(start, '&', q.len - *pos);
		size_t plen = amp ? (size_t)(amp - start) : q.len - *pos;
		*pos += plen + (amp ? 1 : 0);
		if (plen == 0)
			continue;
		const char *eq = memchr(start, '=', plen);
		key->p = start;
		key->len = eq ? (size_t)(eq - start) : plen;
		val->p = eq ? eq + 1 : NULL;
		val->len = eq ? plen - key->len - 1 : 0;
		return true;
	}
	return false;
}
