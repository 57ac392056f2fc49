/* Fuzz the gateway's shipment request parser and masking: any bytes as an
 * HTTP body must give either a valid request or a clean error naming a
 * field, never a crash, and a masked phone never shows more than 5 digits. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../gateway/shipment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct shipment_req req;
	struct shipment_masked m;
	struct smile_error e = {0};
	json_t *j;

	if (size > 65536)
		return 0;
	j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (j == NULL)
		return 0;
	if (shipment_parse(j, &req, &e) == SMILE_OK) {
		for (int p = SMILE_MASK_CN_GBT41833; p <= SMILE_MASK_STRICT; p++) {
			if (shipment_mask((enum smile_mask_policy)p, &req.recipient, "recipient", &m,
					  &e) == SMILE_OK &&
			    smile_mask_count_digits(m.phone) > SMILE_MASK_PHONE_SHOWN_MAX)
				__builtin_trap();
		}
	}
	json_decref(j);
	return 0;
}
