/*
 * api_carts.c - cart bodies: GET /carts/{cart} and the answers to writes
 * (the cart, a keyed write's receipt, a checkout's order).
 *
 *   {"cart":"c1","items":[{"sku":"apple","qty":2}, ...],"token":"..."}
 *   ... ,"closed":{"orders":[order + "late_removed"], "late_added":[...]}}
 *   {"cart":"c1","idempotency_key":"k1","write":{"op":"add","sku":"apple","qty":2}}
 *   {"cart":"c1","order":{"id":"<replica hex>.<counter>","at_ms":N,
 *                         "complete":true,"items":[...]}}
 *
 * Items come out in line order, which is bytewise sku order.  A cart never
 * written reads as empty, with the token of the empty context: reading is
 * never an error for a valid id.  An open cart's body has no "closed"
 * member at all, so it stays what it was before checkout existed.
 *
 * Bodies are written straight into one buffer rather than through a JSON
 * tree: ids and skus are limited to [A-Za-z0-9._~:@-] and tokens are
 * base64url (node_cart_view_get), so nothing needs escaping but an
 * idempotency key (printable ASCII, whose '"' and '\' are escaped), and the
 * cart is the hottest answer the peer renders (every read, every write
 * without Prefer: return=minimal).
 */
#include <string.h>

#include "app/http/api_internal.h"
#include "crdt/buf.h"
#include "crdt/error.h"

#define JSON_TYPE "application/json"

static void put_lit(buf_writer *w, const char *s)
{
	buf_put_bytes(w, s, strlen(s));
}

/* A JSON string of printable ASCII: only '"' and '\' need escaping. */
static void put_str(buf_writer *w, const char *s, size_t len)
{
	buf_put_u8(w, '"');
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			buf_put_u8(w, '\\');
		buf_put_u8(w, (uint8_t)s[i]);
	}
	buf_put_u8(w, '"');
}

/* "00" "01" ... "99": two digits per division, a quantity below 100 (most
 * of them) with none. */
static const char DIGIT_PAIRS[] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/* The decimal digits of v at p; returns the end.  Written from the last
 * pair of digits back, straight into place.  Inline: put_lines writes one
 * per line of every cart it renders. */
static inline uint8_t *raw_decimal(uint8_t *p, uint64_t v)
{
	if (v < 10) {
		*p = (uint8_t)('0' + v);
		return p + 1;
	}
	if (v < 100) {
		memcpy(p, DIGIT_PAIRS + 2 * v, 2);
		return p + 2;
	}
	size_t n = 3;
	for (uint64_t t = v / 1000; t != 0; t /= 10)
		n++;
	uint8_t *end = p + n;
	while (v >= 100) {
		end -= 2;
		memcpy(end, DIGIT_PAIRS + 2 * (v % 100), 2);
		v /= 100;
	}
	if (v >= 10)
		memcpy(end - 2, DIGIT_PAIRS + 2 * v, 2);
	else
		end[-1] = (uint8_t)('0' + v);
	return p + n;
}

static void put_u64(buf_writer *w, uint64_t v)
{
	uint8_t *p = buf_reserve(w, 20);
	if (p != NULL)
		w->len -= 20 - (size_t)(raw_decimal(p, v) - p);
}

#define ITEM_HEAD ",{\"sku\":\""
#define ITEM_MID "\",\"qty\":"
/* An item beside its sku: the two literals (a comma first), 10 digits, '}'. */
#define ITEM_FIXED (sizeof ITEM_HEAD - 1 + sizeof ITEM_MID - 1 + 10 + 1)

/*
 * [{"sku":...,"qty":...}, ...]; a line of quantity 0 (a part of one kept
 * in an order fragment, say) is no item.  Every answer to a write renders
 * every line of its cart, so the items are written through a raw pointer
 * into one reservation sized for the longest quantities, as the codec's
 * encoders do, and what the bound over-reserved is given back: a field at
 * a time through the writer cost about 300 instructions a line.
 */
static size_t lines_bound(const crdt_line *lines, uint32_t n)
{
	size_t bound = 2;
	for (uint32_t i = 0; i < n; i++)
		bound += ITEM_FIXED + lines[i].sku_len;
	return bound;
}

/* bound: lines_bound(lines, n). */
static void put_lines(buf_writer *w, const crdt_line *lines, uint32_t n, size_t bound)
{
	uint8_t *start = buf_reserve(w, bound), *p = start;
	if (start == NULL)
		return;
	/* Every item is written with a leading comma; the first one's becomes
	 * the '['. */
	for (uint32_t i = 0; i < n; i++) {
		const crdt_line *l = &lines[i];
		uint32_t q = crdt_line_qty(l);
		if (q == 0)
			continue;
		memcpy(p, ITEM_HEAD, sizeof ITEM_HEAD - 1);
		p += sizeof ITEM_HEAD - 1;
		/* A short sku is copied as its whole 16-byte slot: one move
		 * instead of a copy of variable length.  The slot fits, as the
		 * bound reserves ITEM_MID, 10 digits and '}' after every sku;
		 * the bytes past the sku are written over by what follows, or
		 * lie past the end that is given back. */
		if (l->sku_len <= CRDT_LINE_INLINE_SKU)
			memcpy(p, l->sku_mem.in, sizeof l->sku_mem.in);
		else
			memcpy(p, l->sku_mem.heap, l->sku_len);
		p += l->sku_len;
		memcpy(p, ITEM_MID, sizeof ITEM_MID - 1);
		p = raw_decimal(p + sizeof ITEM_MID - 1, q);
		*p++ = '}';
	}
	if (p == start)
		*p++ = '[';
	*start = '[';
	*p++ = ']';
	size_t used = (size_t)(p - start);
	/* A bound short of what was written is a bug: an error answer, never
	 * a silent overrun (past the buffer, the sanitizers see it too). */
	if (used > bound)
		w->err = CARTD_ENOSPC;
	else
		w->len -= bound - used;
}

/* An order's fields, without the closing brace. */
static void put_order_fields(buf_writer *w, const crdt_close *m)
{
	char hex[17];
	api_hex64(m->id.replica, hex);
	put_lit(w, "{\"id\":\"");
	buf_put_bytes(w, hex, 16);
	buf_put_u8(w, '.');
	put_u64(w, m->id.counter);
	put_lit(w, "\",\"at_ms\":");
	put_u64(w, m->at_ms);
	put_lit(w, crdt_close_held(m) == m->total ? ",\"complete\":true" : ",\"complete\":false");
	put_lit(w, ",\"items\":");
	put_lines(w, m->lines, m->n, lines_bound(m->lines, m->n));
}

/* Hands the writer's buffer over as a 200 body (kept afterwards for the
 * next body: api_body_writer), or answers rc's error or nomem. */
static void respond_writer(buf_writer *w, int rc, api_response *res)
{
	if (rc != 0) {
		buf_writer_destroy(w);
		api_error_rc(res, rc, NULL);
		return;
	}
	api_respond_writer(res, w, JSON_TYPE);
}

/* ,"closed":{...} of a checked-out cart: every order with the entries
 * removed from it since, and the entries no order holds. */
static int put_closed(buf_writer *w, const crdt_cart *c)
{
	crdt_cart late;
	crdt_cart_init(&late);
	put_lit(w, ",\"closed\":{\"orders\":[");
	int rc = 0;
	for (uint32_t i = 0; i < c->closes->n && rc == 0; i++) {
		const crdt_close *m = &c->closes->v[i];
		rc = crdt_close_late_removed(c, m, &late);
		if (i)
			buf_put_u8(w, ',');
		put_order_fields(w, m);
		put_lit(w, ",\"late_removed\":");
		put_lines(w, late.lines, late.n, lines_bound(late.lines, late.n));
		buf_put_u8(w, '}');
	}
	if (rc == 0)
		rc = crdt_cart_late_added(c, &late);
	put_lit(w, "],\"late_added\":");
	put_lines(w, late.lines, late.n, lines_bound(late.lines, late.n));
	buf_put_u8(w, '}');
	crdt_cart_destroy(&late);
	return rc;
}

void api_render_cart(const crdt_cart *c, const char *id, size_t len, const char *token,
                     api_response *res)
{
	buf_writer w;
	size_t tlen = strlen(token);
	int rc = 0;

	api_body_writer(&w);
	size_t items = c ? lines_bound(c->lines, c->n) : 2;
	/* One allocation, unless the cart is checked out. */
	if (buf_reserve(&w, 64 + len + tlen + items) != NULL)
		buf_writer_reset(&w);
	put_lit(&w, "{\"cart\":\"");
	buf_put_bytes(&w, id, len);
	put_lit(&w, "\",\"items\":");
	put_lines(&w, c ? c->lines : NULL, c ? c->n : 0, items);
	put_lit(&w, ",\"token\":\"");
	buf_put_bytes(&w, token, tlen);
	buf_put_u8(&w, '"');
	if (c && crdt_cart_closed(c))
		rc = put_closed(&w, c);
	put_lit(&w, "}\n");
	respond_writer(&w, rc, res);
}

void api_render_receipt(const api_call *call, api_response *res)
{
	static const char *const ops[] = {
		[CRDT_OP_ADD] = "add", [CRDT_OP_SET] = "set", [CRDT_OP_REMOVE] = "remove",
		[CRDT_OP_CLEAR] = "clear", [CRDT_OP_CLOSE] = "checkout",
	};
	buf_writer w;
	api_body_writer(&w);
	put_lit(&w, "{\"cart\":\"");
	buf_put_bytes(&w, call->cart, call->cart_len);
	put_lit(&w, "\",\"idempotency_key\":");
	put_str(&w, call->key, call->key_len);
	put_lit(&w, ",\"write\":{\"op\":\"");
	put_lit(&w, (unsigned)call->op <= CRDT_OP_CLOSE ? ops[call->op] : "?");
	buf_put_u8(&w, '"');
	if (call->op == CRDT_OP_ADD || call->op == CRDT_OP_SET || call->op == CRDT_OP_REMOVE) {
		put_lit(&w, ",\"sku\":\"");
		buf_put_bytes(&w, call->sku, call->sku_len);
		buf_put_u8(&w, '"');
	}
	if (call->op == CRDT_OP_ADD || call->op == CRDT_OP_SET) {
		put_lit(&w, ",\"qty\":");
		put_u64(&w, call->qty);
	}
	put_lit(&w, "}}\n");
	respond_writer(&w, 0, res);
}

void api_render_order(const char *id, size_t len, const crdt_close *m, api_response *res)
{
	if (!m) {
		api_error(res, 500, "internal", "the checkout's order was not found");
		return;
	}
	buf_writer w;
	api_body_writer(&w);
	put_lit(&w, "{\"cart\":\"");
	buf_put_bytes(&w, id, len);
	put_lit(&w, "\",\"order\":");
	put_order_fields(&w, m);
	put_lit(&w, "}}\n");
	respond_writer(&w, 0, res);
}
