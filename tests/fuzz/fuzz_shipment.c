/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_shipment.c - libFuzzer target for the gateway's shipment request
 * parser (the body of POST /v1/shipments) and the masking behind it.
 *
 * Any bytes as a body must give either a valid request or a clean error
 * naming a field, never a crash, and a masked phone never shows more than 5
 * digits. Beyond that, what the gateway issues must print: for a request it
 * accepts and masks, the label record it builds (as issue_prepare does) must
 * pass the label library's own checks, or the shipment would exist with a
 * label that can never be rendered.
 *
 *   make fuzz && build/fuzz/fuzz_shipment -max_total_time=60    (or make fuzz-smoke)
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smile/label.h"

#include "../../gateway/shipment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* docs/token.md vector V1: a real token, so only the request varies */
#define FUZZ_TOKEN "SW1:W50O58/G8HS8 *8A69TH93T9M+9-6AFIAYTA8-A0/Q.U0CIQ%DFZ/H4FW$.27JTI0H.VNELSMFE90"

static void check_label(const struct shipment_req *req, const struct shipment_masked *rm,
			const struct shipment_masked *sm)
{
	struct smile_label_record *rec = NULL;
	struct smile_error e = {0};
	char sort[16], *text;
	json_t *record;

	static const uint8_t sort_key[SHIPMENT_SORT_KEY_BYTES] = {0x5a};
	shipment_sort_code(sort_key, &req->recipient.addr, sort);
	record = shipment_label_record(req, rm, sm, req->merchant ? req->merchant : "fuzz",
				       "SW2611290000017", FUZZ_TOKEN, sort, "2026-11-29", 1);
	if (record == NULL || (text = json_dumps(record, JSON_COMPACT)) == NULL)
		abort();
	if (smile_label_record_parse(text, strlen(text), &rec, &e) != SMILE_OK) {
		/* the field and message name the mismatch without the input */
		fprintf(stderr, "issued a label record the label library refuses: %s: %s\n",
			e.field, e.message);
		abort();
	}
	smile_label_record_free(rec);
	free(text);
	json_decref(record);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct shipment_req req;
	struct shipment_masked rm, sm;
	struct smile_error e = {0};
	json_t *j;

	if (size > 65536)
		return 0;
	j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (j == NULL)
		return 0;
	if (shipment_parse(j, &req, &e) == SMILE_OK) {
		for (int p = SMILE_MASK_CN_GBT41833; p <= SMILE_MASK_STRICT; p++) {
			enum smile_mask_policy pol = (enum smile_mask_policy)p;
			enum smile_err r = shipment_mask(pol, &req.recipient, "recipient", &rm, &e);
			enum smile_err s = shipment_mask(pol, &req.sender, "sender", &sm, &e);

			if ((r == SMILE_OK &&
			     smile_mask_count_digits(rm.phone) > SMILE_MASK_PHONE_SHOWN_MAX) ||
			    (s == SMILE_OK &&
			     smile_mask_count_digits(sm.phone) > SMILE_MASK_PHONE_SHOWN_MAX))
				__builtin_trap();
			if (r == SMILE_OK && s == SMILE_OK)
				check_label(&req, &rm, &sm);
		}
	}
	json_decref(j);
	return 0;
}
