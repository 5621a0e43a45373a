/* node/config.h — private: command-line/env parsing for main.c, driven by the table in config.c. */
#ifndef NODE_CONFIG_H
#define NODE_CONFIG_H

#include <stdio.h>

#include "node.h"

/* Applies BUSBAR_* environment variables, then argv (flags "--name value" or "--name=value") onto cfg.
 * String values are borrowed from argv/environ. Returns 0, or -1 with a message in err[cap]. */
int config_parse(node_config *cfg, int argc, char **argv, char *err, size_t cap);
void config_print_help(FILE *f);

#endif
