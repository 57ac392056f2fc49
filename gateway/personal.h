/* SPDX-License-Identifier: Apache-2.0 */
/*
 * personal.h (gateway-internal) - the sealed personal record: the one place
 * that knows its JSON, how it is sealed and what it is bound to.
 *
 * At issue the recipient's and sender's full details become compact JSON
 *   {"recipient":{"name","phone","address":{"country",...,"detail"}},"sender":{...}}
 * sealed by the vault (a fresh data key per shipment, wrapped by the vault
 * key) with the shipment id, 8 bytes big-endian, as associated data: a
 * record moved to another shipment's row does not open. At a reveal the
 * record is opened again and only the recipient's contact details, in the
 * shape a device is shown (docs/protocol.md 5.3), come out.
 */
#ifndef SMILE_GATEWAY_PERSONAL_H
#define SMILE_GATEWAY_PERSONAL_H

#include <stddef.h>
#include <stdint.h>

#include "shipment.h"
#include "smile/error.h"
#include "store.h"
#include "vault.h"

/* The vault's associated data for shipment `id`: the id, 8 bytes big-endian.
 * Exported for the vault tools (rotation, check) that open rows themselves. */
#define PERSONAL_AAD_BYTES 8
void personal_aad(uint64_t id, uint8_t aad[PERSONAL_AAD_BYTES]);

/*
 * Seal the personal part of the validated request `req` for shipment `id`
 * into *out (overwritten): out->ct is malloc'd (the caller frees it, as
 * smile_store_personal_release does), out->wrapped_key/wrapped_len hold the
 * wrapped data key. The plaintext JSON exists only inside this call and is
 * wiped before it returns.
 *
 * Returns SMILE_OK; SMILE_ERR_NOMEM; the errors of smile_vault_seal
 * (SMILE_ERR_TOO_LARGE, SMILE_ERR_CRYPTO, SMILE_ERR_INVALID) with e set.
 * On error *out is zeroed and owns nothing.
 */
enum smile_err personal_seal(const struct smile_vault *v, const struct shipment_req *req,
			     uint64_t id, struct smile_store_personal *out, struct smile_error *e)
	SMILE_MUST_CHECK;

/*
 * Open the record `p` of shipment `id` and write the recipient's contact
 * details as a device is shown them (docs/protocol.md 5.3:
 * {"name","phone","address"}, compact, no NUL) into out[0..cap), the length
 * in *len. Personal data: the caller wipes out after use. Every temporary
 * is wiped here.
 *
 * Returns SMILE_OK;
 *   SMILE_ERR_SHREDDED      p holds no wrapped key (erased)
 *   SMILE_ERR_DECRYPT       anything altered, sealed for another shipment,
 *                           or wrapped by a vault key not held (the vault's
 *                           authentication failure)
 *   SMILE_ERR_INVALID       the record's JSON has no well-formed recipient
 *   SMILE_ERR_TOO_LARGE     the contact details do not fit in cap
 *   SMILE_ERR_NOMEM
 * On error *len is 0 and out[0..cap) is wiped: no partial output.
 */
enum smile_err personal_open(const struct smile_vault *v, const struct smile_store_personal *p,
			     uint64_t id, char *out, size_t cap, size_t *len, struct smile_error *e)
	SMILE_MUST_CHECK;

#endif
