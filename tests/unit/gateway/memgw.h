/* SPDX-License-Identifier: Apache-2.0 */
/* memgw.h - a struct gateway as gateway_open builds one, for unit tests,
 * but with no database file: default config, a fresh key set in `dir`, and
 * the store on the process's in-memory SQLite database "PREFIX-PID-N"
 * (written to name[0..64)). Undo with gateway_close. Header-only: each unit
 * test is its own binary. */
#ifndef SMILE_TESTS_MEMGW_H
#define SMILE_TESTS_MEMGW_H

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../../gateway/gateway.h"

static int memgw_open(struct gateway *g, const char *dir, const char *prefix, char name[64])
{
	static int n;
	struct smile_error e = {0};
	char url[96];

	memset(g, 0, sizeof(*g));
	g->serve_lock_fd = -1;
	pthread_mutex_init(&g->stop_lock, NULL);
	pthread_cond_init(&g->stop_cond, NULL);
	snprintf(g->dir, sizeof(g->dir), "%s", dir);
	smile_config_defaults(&g->cfg);
	snprintf(name, 64, "%s-%d-%d", prefix, (int)getpid(), ++n);
	snprintf(url, sizeof(url), "sqlite:memory:%s", name);
	if (smile_mask_policy_parse(g->cfg.mask_policy, &g->policy) != SMILE_OK ||
	    smile_keys_create(dir, &e) != SMILE_OK || smile_keys_load(dir, &g->keys, &e) != SMILE_OK ||
	    smile_store_open(url, 1, 2, &g->store, &e) != SMILE_OK) {
		fprintf(stderr, "memgw_open: %s\n", e.message);
		return -1;
	}
	return 0;
}

#endif
