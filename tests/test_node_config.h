/*
 * test_node_config.h - shared by the command-line test files.
 */
#ifndef TEST_NODE_CONFIG_H
#define TEST_NODE_CONFIG_H

#include <stddef.h>

#include "app/config.h"

/* config_parse over "cartd" followed by the NULL-terminated args. */
int tnc_parse(cartd_config *cfg, enum config_action *act, char *err, size_t errlen,
              const char *const *args);

#endif
