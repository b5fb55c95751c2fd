/*
 * sim_disk.c - a simulated peer's disk (see sim_disk.h).
 */
#include "tests/sim_disk.h"

#include <stdlib.h>
#include <string.h>

#include "crdt/buf.h"
#include "crdt/codec.h"
#include "crdt/error.h"

void sim_disk_init(sim_disk *d)
{
	memset(d, 0, sizeof *d);
}

void sim_disk_destroy(sim_disk *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->rec[i].id);
		free(d->rec[i].bytes);
	}
	free(d->rec);
	memset(d, 0, sizeof *d);
}

const sim_disk_rec *sim_disk_get(const sim_disk *d, const char *id, size_t id_len)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->rec[i].id_len == id_len && memcmp(d->rec[i].id, id, id_len) == 0)
			return &d->rec[i];
	return NULL;
}

/* The record of id, appended empty when absent; NULL on ENOMEM. */
static sim_disk_rec *disk_slot(sim_disk *d, const char *id, size_t id_len)
{
	sim_disk_rec *r = (sim_disk_rec *)sim_disk_get(d, id, id_len);
	if (r)
		return r;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		sim_disk_rec *p = realloc(d->rec, cap * sizeof *p);
		if (p == NULL)
			return NULL;
		d->rec = p;
		d->cap = cap;
	}
	char *copy = malloc(id_len + 1);
	if (copy == NULL)
		return NULL;
	memcpy(copy, id, id_len);
	copy[id_len] = '\0';
	r = &d->rec[d->n++];
	*r = (sim_disk_rec){ .id = copy, .id_len = id_len };
	return r;
}

int sim_disk_put(sim_disk *d, const char *id, size_t id_len, const crdt_cart *c)
{
	buf_writer w;
	buf_writer_init(&w);
	crdt_encode_cart(&w, c);
	sim_disk_rec *r = w.err ? NULL : disk_slot(d, id, id_len);
	if (r == NULL) {
		buf_writer_destroy(&w);
		return CARTD_ENOMEM;
	}
	free(r->bytes);
	/* the writer's heap buffer becomes the record: no second copy */
	r->bytes = w.data;
	r->len = w.len;
	d->writes++;
	return 0;
}

int sim_disk_read(const sim_disk *d, const char *id, size_t id_len, crdt_cart *out)
{
	const sim_disk_rec *r = sim_disk_get(d, id, id_len);
	if (r == NULL) {
		crdt_cart_destroy(out);
		crdt_cart_init(out);
		return 0;
	}
	return crdt_cart_from_bytes(r->bytes, r->len, out);
}

int sim_disk_load(const sim_disk *d, crdt_store *s)
{
	crdt_cart c;
	crdt_cart_init(&c);
	int rc = 0;
	for (size_t i = 0; i < d->n && rc == 0; i++) {
		rc = crdt_cart_from_bytes(d->rec[i].bytes, d->rec[i].len, &c);
		if (rc == 0)
			rc = crdt_store_join(s, d->rec[i].id, d->rec[i].id_len, &c, NULL);
	}
	crdt_cart_destroy(&c);
	return rc;
}
