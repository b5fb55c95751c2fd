/*
 * api_prefer.c - the one preference of RFC 7240 the API honours:
 * "Prefer: return=minimal" on a write asks for 204 No Content instead of
 * the whole cart, which a client that does not read the answer would
 * otherwise pay for in bytes and the peer in rendering.
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "app/http/api.h"

static bool ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Is [p, end) the word w, bare or as a quoted-string, case-insensitively? */
static bool word_is(const char *p, const char *end, const char *w)
{
	size_t n = strlen(w);
	if (end - p >= 2 && *p == '"' && end[-1] == '"') {
		p++;
		end--;
	}
	return (size_t)(end - p) == n && strncasecmp(p, w, n) == 0;
}

bool api_prefer_minimal(const char *prefer)
{
	const char *p = prefer;
	while (p && *p) {
		/* One preference: token [BWS "=" BWS word] *(OWS ";" parameter),
		 * up to the next comma (quoted commas do not occur in the words
		 * that matter here). */
		const char *end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		while (p < end && ows(*p))
			p++;
		const char *name = p;
		while (p < end && *p != '=' && *p != ';' && !ows(*p))
			p++;
		if (p - name == 6 && strncasecmp(name, "return", 6) == 0) {
			while (p < end && ows(*p))
				p++;
			if (p == end || *p != '=')
				return false;
			p++;
			while (p < end && ows(*p))
				p++;
			const char *v = p;
			while (p < end && *p != ';')
				p++;
			const char *ve = p;
			while (ve > v && ows(ve[-1]))
				ve--;
			/* Only the first "return" preference is considered (RFC 7240
			 * section 2). */
			return word_is(v, ve, "minimal");
		}
		p = *end ? end + 1 : end;
	}
	return false;
}
