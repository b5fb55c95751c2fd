/*
 * sim_oracle_req.c - the oracle's records of keyed requests, checkouts and
 * removes under tokens that saw one attempt (see sim_oracle.h); the checks
 * that use them are in sim_marks.c.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/error.h"
#include "tests/sim_oracle.h"

int sim_oracle_req_add(sim_oracle *o, sim_req *r, uint32_t *idx)
{
	if (sim_grow((void **)&o->reqs, &o->reqs_cap, o->nreqs + 1, sizeof *o->reqs))
		return CARTD_ENOMEM;
	*idx = (uint32_t)o->nreqs;
	o->reqs[o->nreqs++] = *r;
	return 0;
}

int sim_oracle_close_add(sim_oracle *o, uint32_t op, const crdt_cart *delta,
                         const crdt_ctx *covered)
{
	if (sim_grow((void **)&o->closes, &o->closes_cap, o->ncloses + 1, sizeof *o->closes))
		return CARTD_ENOMEM;
	sim_close_rec *c = &o->closes[o->ncloses];
	c->op = op;
	crdt_cart_init(&c->delta);
	crdt_ctx_init(&c->covered);
	if (crdt_cart_copy(&c->delta, delta) || crdt_ctx_copy(&c->covered, covered)) {
		crdt_cart_destroy(&c->delta);
		crdt_ctx_destroy(&c->covered);
		return CARTD_ENOMEM;
	}
	o->ncloses++;
	return 0;
}

int sim_oracle_tokrem_add(sim_oracle *o, uint32_t op, uint32_t req)
{
	if (sim_grow((void **)&o->tokrem, &o->tokrem_cap, o->ntokrem + 1, sizeof *o->tokrem))
		return CARTD_ENOMEM;
	o->tokrem[o->ntokrem++] = (sim_tokrem){ op, req };
	return 0;
}

bool sim_oracle_req_survives(const sim_oracle *o, uint32_t req)
{
	for (size_t i = 0; i < o->nops; i++)
		if (o->ops[i].req == req &&
		    (o->ops[i].state == SIM_OP_ACKED || o->ops[i].state == SIM_OP_DURABLE))
			return true;
	return false;
}

void sim_oracle_marks_destroy(sim_oracle *o)
{
	for (size_t i = 0; i < o->nreqs; i++) {
		crdt_ctx_destroy(&o->reqs[i].token);
		crdt_ctx_destroy(&o->reqs[i].seen);
	}
	for (size_t i = 0; i < o->ncloses; i++) {
		crdt_cart_destroy(&o->closes[i].delta);
		crdt_ctx_destroy(&o->closes[i].covered);
	}
	free(o->reqs);
	free(o->closes);
	free(o->tokrem);
}
