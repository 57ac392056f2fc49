/* SPDX-License-Identifier: Apache-2.0 */
/*
 * svc_apikeys.c - minting and revoking API keys (admin only), for every door.
 *
 * The store keeps only a hash of each key (apikey.c); the secret leaves
 * here once, in the caller's buffer. Each change is logged here with the
 * caller's id (apikey.created, apikey.revoked).
 */
#include <string.h>

#include "apikey.h"
#include "smile/log.h"
#include "svc.h"

enum smile_err svc_apikey_create(struct gateway *g, const struct svc_caller *c,
				 enum smile_role role, const char *merchant,
				 const char *const *bindings, int n_bindings,
				 char key_out[APIKEY_STRING_MAX],
				 char id_out[SMILE_STORE_ID_MAX], struct smile_error *e)
{
	enum smile_err rc;

	if ((rc = svc_need_admin(c, e)))
		return rc;
	rc = apikey_create(g->store, role, merchant, bindings, n_bindings, key_out, id_out, e);
	if (rc)
		return rc;
	smile_log(SMILE_LOG_INFO, "apikey.created", SMILE_KV_ID("id", id_out),
		  SMILE_KV_ID("role", smile_role_name(role)), SMILE_KV_ID("by", c->id));
	return SMILE_OK;
}

enum smile_err svc_apikey_revoke(struct gateway *g, const struct svc_caller *c, const char *id,
				 struct smile_error *e)
{
	enum smile_err rc;

	if ((rc = svc_need_admin(c, e)))
		return rc;
	if (strcmp(id, c->id) == 0)
		return smile_error_set(e, SMILE_ERR_CONFLICT, "id",
				       "an admin key cannot revoke itself; use another admin key");
	rc = smile_store_revoke_apikey(g->store, id, gateway_now_ms());
	if (rc == SMILE_ERR_NOT_FOUND)
		return smile_error_set(e, rc, "id", "no such active API key");
	if (rc)
		return smile_error_set(e, SMILE_ERR_STORE, NULL, "could not revoke the key");
	smile_log(SMILE_LOG_INFO, "apikey.revoked", SMILE_KV_ID("id", id), SMILE_KV_ID("by", c->id));
	return SMILE_OK;
}
