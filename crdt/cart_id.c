/*
 * cart_id.c - the one place a cart id is checked and hashed (cart_id.h).
 */
#include "crdt/cart_id.h"

#include "crdt/cart.h"
#include "crdt/codec.h"
#include "crdt/error.h"

int crdt_id_make(crdt_id *id, const char *s, size_t len)
{
	if (crdt_check_id(s, len) != 0)
		return CARTD_EID;
	*id = crdt_id_of(s, len, crdt_name_hash(s, len));
	return 0;
}
