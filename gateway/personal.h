/*
 * personal.h (gateway-internal) - the sealed personal record.
 */
#ifndef SMILE_GATEWAY_PERSONAL_H
#define SMILE_GATEWAY_PERSONAL_H

#include <stddef.h>
#include <stdint.h>

#include "shipment.h"

/* The vault's associated data for shipment `id`: the id, 8 bytes big-endian. */
#define PERSONAL_AAD_BYTES 8
void personal_aad(uint64_t id, uint8_t aad[PERSONAL_AAD_BYTES]);

/* The personal part as compact JSON text (caller frees with
 * shipment_personal_free, which wipes it). NULL on allocation failure. */
char *shipment_personal_json(const struct shipment_req *r, size_t *len);
void shipment_personal_free(char *s, size_t len);

#endif
