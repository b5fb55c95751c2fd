/*
 * http_parse.c - strict HTTP/1.1 request heads and chunked bodies (see
 * http_parse.h for the rules and the error codes).
 */
#include "app/http/http_parse.h"

#include <string.h>
#include <strings.h>

static const http_bad bad_request = { 400, "bad_request",
	"the request line is not: method, space, target, space, HTTP version" };
static const http_bad bad_target = { 400, "bad_target",
	"the request target is empty or has a NUL byte, a space or a character that is "
	"not visible ASCII" };
static const http_bad bad_header = { 400, "bad_header",
	"a header line has a NUL byte, a control character, a name that is not a token, "
	"or is folded (obs-fold)" };
static const http_bad bad_length = { 400, "bad_length",
	"the body length is ambiguous or malformed: more than one Content-Length, one "
	"that is not a number, Content-Length with Transfer-Encoding, a Transfer-Encoding "
	"other than a single \"chunked\" on HTTP/1.1, or a malformed chunk" };
static const http_bad missing_host = { 400, "missing_host",
	"HTTP/1.1 needs exactly one Host header (HTTP/1.0 at most one)" };
static const http_bad too_large = { 431, "header_too_large",
	"the request header is too large or has too many lines" };
static const http_bad bad_version = { 505, "bad_version",
	"only HTTP/1.0 and HTTP/1.1 are served" };

/* RFC 9110 5.6.2 tchar. */
static const unsigned char tchar[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1,
	['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,
	['~'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,
	['7'] = 1, ['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1,
	['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
	['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,
	['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1,
	['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
	['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
	['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

static bool is_tchar(unsigned char c)
{
	return tchar[c] != 0;
}

/* A control character or DEL: what a field value refuses, HTAB aside. */
static bool is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* field-vchar, SP or HTAB (RFC 9110 5.5): obs-text allowed, CTLs not. */
static bool is_field_char(unsigned char c)
{
	return c == '\t' || !is_ctl(c);
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Eight bytes at a time.  A head is read a word at a time where every byte
 * of a run is judged the same way (a value's characters, a target's): the
 * tests below say exactly whether a word holds a byte of the kind, and the
 * lowest byte they flag is the first such byte (a borrow only carries
 * upward, past it).  Words are read only wholly inside the bytes given.
 */
#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

static uint64_t load64(const char *p)
{
	uint64_t x;
	memcpy(&x, p, sizeof x);
	return x;
}

/* The bytes of x below n (n <= 0x80), flagged in their high bits. */
static uint64_t bytes_below(uint64_t x, unsigned n)
{
	return (x - ONES * n) & ~x & HIGHS;
}

/* The bytes of x equal to c, flagged in their high bits. */
static uint64_t bytes_equal(uint64_t x, unsigned c)
{
	return bytes_below(x ^ (ONES * c), 1);
}

/* The first control character or DEL in [i, end), or end. */
static size_t next_ctl(const char *buf, size_t i, size_t end)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	for (; end - i >= 8; i += 8) {
		uint64_t x = load64(buf + i);
		uint64_t m = bytes_below(x, 0x20) | bytes_equal(x, 0x7f);
		if (m)
			return i + (size_t)__builtin_ctzll(m) / 8;
	}
#endif
	while (i < end && !is_ctl((unsigned char)buf[i]))
		i++;
	return i;
}

/* Whether every byte of x is visible ASCII (0x21..0x7e). */
static bool visible_word(uint64_t x)
{
	return (bytes_below(x, 0x21) | bytes_equal(x, 0x7f) | (x & HIGHS)) == 0;
}

/* Whether [i, end) is all visible ASCII, as a target must be. */
static bool all_visible(const char *buf, size_t i, size_t end)
{
	if (end - i >= 8) {   /* whole words, the last one overlapping */
		for (; end - i >= 8; i += 8)
			if (!visible_word(load64(buf + i)))
				return false;
		return visible_word(load64(buf + end - 8));
	}
	for (; i < end; i++)
		if ((unsigned char)buf[i] <= 0x20 || (unsigned char)buf[i] >= 0x7f)
			return false;
	return true;
}

/* Leading empty lines (CR LF or LF) before a request line. */
static size_t skip_empty_lines(const char *buf, size_t len)
{
	size_t i = 0;
	for (;;) {
		if (i < len && buf[i] == '\n')
			i++;
		else if (i + 1 < len && buf[i] == '\r' && buf[i + 1] == '\n')
			i += 2;
		else
			return i;
	}
}

/* Whether the LF at p ends an empty line (LF or CR LF alone).  Before the
 * head ends, only the empty lines allowed before the request line can:
 * telling them apart by the two bytes before p, rather than by skipping
 * them from buf[0] on every call, keeps the cursor's promise. */
static bool ends_empty_line(const char *buf, size_t p)
{
	if (p > 0 && buf[p - 1] == '\r')
		p--;
	return p == 0 || buf[p - 1] == '\n';
}

size_t http_head_end(const char *buf, size_t len, size_t *scanned)
{
	size_t i = *scanned;
	while (i < len) {
		const char *nl = memchr(buf + i, '\n', len - i);
		if (!nl)
			break;
		size_t p = (size_t)(nl - buf);
		if (ends_empty_line(buf, p)) {
			i = p + 1;
			continue;
		}
		if (p + 1 < len && buf[p + 1] == '\n')
			return p + 2;
		if (p + 2 < len && buf[p + 1] == '\r' && buf[p + 2] == '\n')
			return p + 3;
		if (p + 1 >= len || (p + 2 >= len && buf[p + 1] == '\r')) {
			*scanned = p;   /* undecided until more arrives */
			return 0;
		}
		i = p + 1;
	}
	*scanned = len;
	return 0;
}

/* The line starting at p (before end): its content ends at *le (CR LF or
 * LF excluded), the next line starts at the return value; 0 if no LF. */
static size_t line_at(const char *buf, size_t p, size_t end, size_t *le)
{
	const char *nl = memchr(buf + p, '\n', end - p);
	if (!nl)
		return 0;
	size_t e = (size_t)(nl - buf);
	*le = e > p && buf[e - 1] == '\r' ? e - 1 : e;
	return e + 1;
}

static bool name_is(const char *s, size_t n, const char *want)
{
	return n == strlen(want) && strncasecmp(s, want, n) == 0;
}

/*
 * Whether token s (n bytes, tchars only) is the header name lower, given in
 * lowercase letters and '-': a tchar ORed with 0x20 is a lowercase letter
 * only if it is that letter in either case, and '-' only if it is '-', so
 * folding a word at once is exact here (it would not be for any bytes:
 * CR folds to '-').
 */
static bool token_is(const char *s, size_t n, const char *lower, size_t len)
{
	if (n != len)
		return false;
	if (len >= 8) {   /* whole words, the last one overlapping */
		for (size_t i = 0; i + 8 <= len; i += 8)
			if ((load64(s + i) | ONES * 0x20) != load64(lower + i))
				return false;
		return (load64(s + len - 8) | ONES * 0x20) == load64(lower + len - 8);
	}
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] | 0x20) != (unsigned char)lower[i])
			return false;
	return true;
}
#define TOKEN_IS(s, n, lit) token_is(s, n, lit, sizeof lit - 1)

/* What the header lines said, before the rules are applied. */
typedef struct seen {
	unsigned hosts, lengths, encodings, lines;
	bool bad_number, te_other, conn_close, conn_keep;
	size_t type_len, prefer_len;   /* of the values h points at */
} seen;

static void parse_length(seen *s, http_head *h, const char *v, size_t n)
{
	uint64_t x = 0;
	s->lengths++;
	if (n == 0)
		s->bad_number = true;
	for (size_t i = 0; i < n && !s->bad_number; i++) {
		unsigned d = (unsigned)((unsigned char)v[i] - '0');
		if (d > 9 || x > (HTTP_LENGTH_MAX - d) / 10)
			s->bad_number = true;
		else
			x = x * 10 + d;
	}
	h->has_length = true;
	h->length = x;
}

/* Connection: a comma-separated list of tokens (RFC 9110 7.6.1). */
static void parse_connection(seen *s, const char *v, size_t n)
{
	size_t i = 0;
	while (i < n) {
		while (i < n && (is_ows(v[i]) || v[i] == ','))
			i++;
		size_t b = i;
		while (i < n && v[i] != ',' && !is_ows(v[i]))
			i++;
		if (name_is(v + b, i - b, "close"))
			s->conn_close = true;
		else if (name_is(v + b, i - b, "keep-alive"))
			s->conn_keep = true;
	}
}

static void take_header(seen *s, http_head *h, const char *name, size_t nlen, const char *v,
                        size_t vlen)
{
	switch (name[0] | 0x20) {
	case 'h':
		if (TOKEN_IS(name, nlen, "host"))
			s->hosts++;
		break;
	case 'c':
		if (TOKEN_IS(name, nlen, "content-length")) {
			parse_length(s, h, v, vlen);
		} else if (TOKEN_IS(name, nlen, "content-type") && !h->content_type) {
			h->content_type = v;
			s->type_len = vlen;
		} else if (TOKEN_IS(name, nlen, "connection")) {
			parse_connection(s, v, vlen);
		}
		break;
	case 't':
		if (TOKEN_IS(name, nlen, "transfer-encoding")) {
			s->encodings++;
			if (name_is(v, vlen, "chunked"))
				h->chunked = true;
			else
				s->te_other = true;
		}
		break;
	case 'p':
		if (TOKEN_IS(name, nlen, "prefer") && !h->prefer) {
			h->prefer = v;
			s->prefer_len = vlen;
		}
		break;
	case 'i':
		if (TOKEN_IS(name, nlen, "idempotency-key") && h->idem_keys++ == 0) {
			h->idem_key = v;
			h->idem_key_len = vlen;
		}
		break;
	case 'e':
		if (TOKEN_IS(name, nlen, "expect") && name_is(v, vlen, "100-continue"))
			h->expect_continue = true;
		break;
	default:
		break;
	}
}

/*
 * One header line starting at p, before end: name ":" OWS value OWS, ended
 * by CR LF or a bare LF.  *next is where the next line starts.  The value
 * is read up to its first control character, which must be the line's end
 * (HTAB aside): so the line's end is found by the same pass that judges
 * its characters.
 */
static const http_bad *header_fields(char *buf, size_t p, size_t end, seen *s, http_head *h,
                                     size_t *next)
{
	if (++s->lines > HTTP_HEADERS_MAX)
		return &too_large;
	if (is_ows(buf[p]))
		return &bad_header;   /* obs-fold, or whitespace before a name */
	size_t n = p;
	while (n < end && is_tchar((unsigned char)buf[n]))
		n++;
	if (n == p || n == end || buf[n] != ':')
		return &bad_header;
	size_t v = n + 1, i;
	while (v < end && is_ows(buf[v]))
		v++;
	for (i = v;; i++) {
		i = next_ctl(buf, i, end);
		if (i == end || buf[i] != '\t')
			break;
	}
	if (i < end && buf[i] == '\n')
		*next = i + 1;
	else if (i + 1 < end && buf[i] == '\r' && buf[i + 1] == '\n')
		*next = i + 2;
	else
		return &bad_header;   /* a NUL, another CTL, DEL, a bare CR, or no end */
	size_t ve = i;
	while (ve > v && is_ows(buf[ve - 1]))
		ve--;
	take_header(s, h, buf + p, n - p, buf + v, ve - v);
	return NULL;
}

/* header_fields, but a refused line without a LF after it (only a head not
 * from http_head_end lacks one) is bad_request, as a line with no end. */
static const http_bad *header_line(char *buf, size_t p, size_t end, seen *s, http_head *h,
                                   size_t *next)
{
	const http_bad *why = header_fields(buf, p, end, s, h, next);
	if (why && !memchr(buf + p, '\n', end - p))
		return &bad_request;
	return why;
}

/* The request line [p, le). */
static const http_bad *request_line(char *buf, size_t p, size_t le, http_head *h)
{
	size_t m = p;
	while (m < le && is_tchar((unsigned char)buf[m]))
		m++;
	if (m == p || m == le || buf[m] != ' ')
		return &bad_request;
	const char *sp = memrchr(buf + m + 1, ' ', le - m - 1);
	if (!sp)
		return &bad_request;
	size_t t = m + 1, te = (size_t)(sp - buf), v = te + 1;
	if (te == t)
		return &bad_target;
	if (!all_visible(buf, t, te))
		return &bad_target;
	if (le - v != 8 || memcmp(buf + v, "HTTP/", 5) != 0 || buf[v + 6] != '.' ||
	    buf[v + 5] < '0' || buf[v + 5] > '9' || buf[v + 7] < '0' || buf[v + 7] > '9')
		return &bad_request;
	if (buf[v + 5] != '1' || buf[v + 7] > '1')
		return &bad_version;
	h->minor = (unsigned)(buf[v + 7] - '0');
	h->method = buf + p;
	h->target = buf + t;
	h->target_len = te - t;
	return NULL;
}

/* The rules that need the whole head (see the header comment). */
static const http_bad *framing(const seen *s, const http_head *h)
{
	if (s->hosts > 1 || (s->hosts == 0 && h->minor == 1))
		return &missing_host;
	if (s->lengths > 1 || s->bad_number || (s->lengths && s->encodings) ||
	    s->encodings > 1 || s->te_other || (s->encodings && h->minor == 0))
		return &bad_length;
	return NULL;
}

/* The strings of *h get their NULs only once the head is accepted, so
 * that a refused head leaves buf as it came. */
static void terminate_strings(char *buf, const http_head *h, const seen *s)
{
	size_t t = (size_t)(h->target - buf);
	buf[t - 1] = '\0';               /* the SP after the method */
	buf[t + h->target_len] = '\0';  /* the SP before the version */
	if (h->content_type)
		buf[(size_t)(h->content_type - buf) + s->type_len] = '\0';
	if (h->prefer)
		buf[(size_t)(h->prefer - buf) + s->prefer_len] = '\0';
	if (h->idem_key)
		buf[(size_t)(h->idem_key - buf) + h->idem_key_len] = '\0';
}

enum http_parse_result http_parse_head(char *buf, size_t end, http_head *h, http_bad *bad)
{
	seen s = { 0 };
	size_t le = 0;
	const http_bad *why;
	memset(h, 0, sizeof *h);
	if (end > HTTP_HEAD_MAX) {
		*bad = too_large;
		return HTTP_PARSE_BAD;
	}
	size_t p = skip_empty_lines(buf, end);
	size_t next = p < end ? line_at(buf, p, end, &le) : 0;
	if (next == 0) {
		*bad = bad_request;
		return HTTP_PARSE_BAD;
	}
	why = request_line(buf, p, le, h);
	for (p = next; !why; p = next) {
		if (p >= end) {
			why = &bad_request;   /* no blank line: not from http_head_end */
			break;
		}
		if (buf[p] == '\n' || (buf[p] == '\r' && p + 1 < end && buf[p + 1] == '\n')) {
			next = p + (buf[p] == '\n' ? 1 : 2);
			break;                /* the blank line */
		}
		why = header_line(buf, p, end, &s, h, &next);
	}
	if (!why)
		why = framing(&s, h);
	if (why) {
		*bad = *why;
		return HTTP_PARSE_BAD;
	}
	if (!h->has_length)
		h->length = 0;
	h->keep_alive = h->minor == 1 ? !s.conn_close : s.conn_keep && !s.conn_close;
	h->head_len = next;
	terminate_strings(buf, h, &s);
	return HTTP_PARSE_DONE;
}

/* ---- chunked bodies ---- */

enum chunk_state {
	CH_SIZE,          /* hex digits of a chunk size */
	CH_SIZE_BWS,      /* whitespace after the size: only ';' or the end may follow */
	CH_EXT,           /* a chunk extension, up to the end of the line */
	CH_SIZE_LF,       /* the LF after the size line's CR */
	CH_DATA,
	CH_DATA_CR,       /* the CR (or bare LF) after a chunk's data */
	CH_DATA_LF,
	CH_TRAILER,       /* at the start of a trailer line, or the final blank line */
	CH_TRAILER_NAME,  /* a trailer field's name, up to its colon */
	CH_TRAILER_LINE,
	CH_TRAILER_LF,
	CH_END_LF,        /* the LF of the final blank line */
	CH_DONE,
};

void http_chunked_init(http_chunked *c)
{
	memset(c, 0, sizeof *c);
	c->state = CH_SIZE;
}

static int hex_value(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch |= 0x20;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* The size line ended: data follows, or the last chunk's trailers. */
static void size_line_done(http_chunked *c)
{
	c->state = c->left ? CH_DATA : CH_TRAILER;
	c->digits = 0;
}

/* One non-data byte; false when it is malformed.  Every line of the
 * chunked framing ends in CR LF: a bare LF is refused here (unlike in a
 * head), because parsers that disagree on where a chunk line ends are
 * how a body smuggles a second request past a proxy. */
static bool chunk_byte(http_chunked *c, unsigned char ch)
{
	switch (c->state) {
	case CH_SIZE: {
		int d = hex_value(ch);
		if (d >= 0) {
			if (c->left > (HTTP_LENGTH_MAX - (unsigned)d) >> 4)
				return false;   /* left * 16 + d would pass the cap */
			c->left = c->left * 16 + (unsigned)d;
			c->digits++;
			return true;
		}
		if (c->digits == 0)
			return false;
		if (ch == '\r')
			c->state = CH_SIZE_LF;
		else if (ch == ';')
			c->state = CH_EXT;
		else if (is_ows((char)ch))
			c->state = CH_SIZE_BWS;
		else
			return false;
		return true;
	}
	case CH_SIZE_BWS:
		if (ch == ';')
			c->state = CH_EXT;
		else if (ch == '\r')
			c->state = CH_SIZE_LF;
		else if (!is_ows((char)ch))
			return false;
		return true;
	case CH_EXT:
		if (ch == '\r')
			c->state = CH_SIZE_LF;
		else if (!is_field_char(ch))
			return false;
		return true;
	case CH_SIZE_LF:
		if (ch != '\n')
			return false;
		size_line_done(c);
		return true;
	case CH_DATA_CR:
		if (ch != '\r')
			return false;
		c->state = CH_DATA_LF;
		return true;
	case CH_DATA_LF:
		if (ch != '\n')
			return false;
		c->state = CH_SIZE;
		return true;
	case CH_TRAILER:
		if (ch == '\r')
			c->state = CH_END_LF;
		else if (is_tchar(ch))
			c->state = CH_TRAILER_NAME;
		else
			return false;   /* a folded or nameless trailer line */
		return true;
	case CH_TRAILER_NAME:
		if (ch == ':')
			c->state = CH_TRAILER_LINE;
		else if (!is_tchar(ch))
			return false;   /* no colon, or space before it */
		return true;
	case CH_TRAILER_LINE:
		if (ch == '\r')
			c->state = CH_TRAILER_LF;
		else if (!is_field_char(ch))
			return false;
		return true;
	case CH_TRAILER_LF:
		if (ch != '\n')
			return false;
		c->state = CH_TRAILER;
		return true;
	case CH_END_LF:
		if (ch != '\n')
			return false;
		c->state = CH_DONE;
		return true;
	default:
		return false;
	}
}

enum http_parse_result http_chunked_decode(http_chunked *c, char *buf, size_t len, size_t *in,
                                           size_t *out, http_bad *bad)
{
	size_t i = *in, o = *out;
	while (i < len && c->state != CH_DONE) {
		if (c->state == CH_DATA) {
			size_t n = len - i;
			if ((uint64_t)n > c->left)
				n = (size_t)c->left;
			memmove(buf + o, buf + i, n);
			i += n;
			o += n;
			c->left -= n;
			if (c->left == 0)
				c->state = CH_DATA_CR;
			continue;
		}
		if (++c->overhead > HTTP_CHUNK_OVERHEAD_MAX || !chunk_byte(c, (unsigned char)buf[i])) {
			*in = i;
			*out = o;
			*bad = bad_length;
			return HTTP_PARSE_BAD;
		}
		i++;
	}
	*in = i;
	*out = o;
	return c->state == CH_DONE ? HTTP_PARSE_DONE : HTTP_PARSE_MORE;
}
