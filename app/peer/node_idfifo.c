/*
 * node_idfifo.c - a FIFO of cart ids: the replicated changes handed to the
 * committer, in submission order, so that a failed commit can name its
 * cart.  Completions come in submission order, so the id at the front is
 * always that of the next persist completion.
 *
 * One growing byte buffer of (length byte, id bytes) entries: no
 * allocation per change, where a record per change took malloc's slow
 * path once hundreds of them were waiting for one lazy commit.
 */
#include <stdlib.h>
#include <string.h>

#include "app/peer/node_internal.h"
#include "crdt/error.h"

#define IDFIFO_MIN_CAP 1024u

int idfifo_reserve(idfifo *q, size_t len)
{
	size_t need = 1 + len;
	if (q->tail + need <= q->cap)
		return 0;
	if (q->head > 0) {   /* slide the live entries to the front first */
		memmove(q->buf, q->buf + q->head, q->tail - q->head);
		q->tail -= q->head;
		q->head = 0;
		if (q->tail + need <= q->cap)
			return 0;
	}
	size_t cap = q->cap ? q->cap : IDFIFO_MIN_CAP;
	while (cap < q->tail + need)
		cap *= 2;
	uint8_t *b = realloc(q->buf, cap);
	if (b == NULL)
		return CARTD_ENOMEM;
	q->buf = b;
	q->cap = cap;
	return 0;
}

void idfifo_push(idfifo *q, const char *id, size_t len)
{
	q->buf[q->tail] = (uint8_t)len;
	memcpy(q->buf + q->tail + 1, id, len);
	q->tail += 1 + len;
	q->n++;
}

size_t idfifo_pop(idfifo *q, char *out)
{
	if (q->n == 0)
		return 0;
	size_t len = q->buf[q->head];
	memcpy(out, q->buf + q->head + 1, len);
	out[len] = '\0';
	q->head += 1 + len;
	if (--q->n == 0)
		q->head = q->tail = 0;
	return len;
}

void idfifo_destroy(idfifo *q)
{
	free(q->buf);
	memset(q, 0, sizeof *q);
}
