/* SPDX-License-Identifier: Apache-2.0 */
/*
 * svc_access.c - who may do what: the callers the service knows, the one
 * rule for shipments, and the role checks.
 *
 * Every door names its caller with a struct svc_caller and every service
 * function asks here, so a rule cannot differ between the API, the command
 * line and the retention job. The operator at the command line and the
 * retention job act as admin: whoever can run them owns the data directory.
 */
#include <string.h>

#include "svc.h"

const struct svc_caller svc_caller_cli = {
	.id = "cli",
	.door = "cli",
	.role = SMILE_ROLE_ADMIN,
	.key = NULL,
};

const struct svc_caller svc_caller_retention = {
	.id = "retention",
	.door = "retention",
	.role = SMILE_ROLE_ADMIN,
	.key = NULL,
};

struct svc_caller svc_caller_api(const struct smile_store_apikey *k)
{
	return (struct svc_caller){
		.id = k->id,
		.door = "api",
		.role = k->role,
		.key = k,
	};
}

int svc_may_access(const struct svc_caller *c, const char *merchant)
{
	switch (c->role) {
	case SMILE_ROLE_ADMIN:
		return 1;
	case SMILE_ROLE_MERCHANT:
		return c->key != NULL && strcmp(c->key->merchant, merchant) == 0;
	case SMILE_ROLE_WAREHOUSE:
		if (c->key == NULL)
			return 0;
		for (int i = 0; i < c->key->n_bindings; i++)
			if (strcmp(c->key->bindings[i], merchant) == 0)
				return 1;
		return 0;
	}
	return 0;
}

enum smile_err svc_need_admin(const struct svc_caller *c, struct smile_error *e)
{
	if (c->role == SMILE_ROLE_ADMIN)
		return SMILE_OK;
	return smile_error_set(e, SMILE_ERR_PERMISSION, NULL, "this needs an admin API key");
}
