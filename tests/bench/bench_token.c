/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_token.c - how fast one core mints and opens QR tokens, and seals and
 * opens a shipment's personal data in the vault. Prints figures; never
 * judges them (timing goals live in `make bench`, not in tests).
 *
 *   bench_token [SECONDS-PER-FIGURE]   (default 1.0)
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../gateway/token.h"
#include "../../gateway/vault.h"

#define BATCH 1024

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char tokens[BATCH][SMILE_TOKEN_MAX];

int main(int argc, char **argv)
{
	double secs = argc > 1 ? strtod(argv[1], NULL) : 1.0;
	struct smile_token_keyring *kr;
	struct smile_vault *v;
	uint8_t key[32];
	double t0, t;
	unsigned long n;
	uint64_t sum = 0;
	int rc = 1;

	if (secs <= 0 || secs > 60)
		secs = 1.0;
	if (sodium_init() < 0)
		return 1;
	kr = smile_token_keyring_new();
	randombytes_buf(key, sizeof(key));
	v = smile_vault_new(key, NULL);
	if (kr == NULL || v == NULL || smile_token_keyring_add(kr, 3, key, NULL) != SMILE_OK ||
	    smile_token_keyring_set_current(kr, 3, NULL) != SMILE_OK)
		goto out;

	/* mint */
	n = 0;
	t0 = now();
	do {
		for (int i = 0; i < BATCH; i++)
			if (smile_token_mint(kr, n + (unsigned long)i, tokens[i], NULL) != SMILE_OK)
				goto out;
		n += BATCH;
		t = now() - t0;
	} while (t < secs);
	printf("token mint:  %10.0f tokens/s  (%.2f us each, one core)\n", n / t, t / n * 1e6);

	/* open (valid tokens: the full path, MAC included) */
	n = 0;
	t0 = now();
	do {
		for (int i = 0; i < BATCH; i++) {
			uint64_t id;
			if (smile_token_open(kr, tokens[i], SMILE_TOKEN_LEN, &id, NULL, NULL) != SMILE_OK)
				goto out;
			sum += id;
		}
		n += BATCH;
		t = now() - t0;
	} while (t < secs);
	printf("token open:  %10.0f tokens/s  (%.2f us each, one core)\n", n / t, t / n * 1e6);

	/* open of junk: rejected before any MAC */
	n = 0;
	t0 = now();
	do {
		for (int i = 0; i < BATCH; i++) {
			uint64_t id;
			tokens[i][10] = 'a';
			if (smile_token_open(kr, tokens[i], SMILE_TOKEN_LEN, &id, NULL, NULL) !=
			    SMILE_ERR_TOKEN_MALFORMED)
				goto out;
		}
		n += BATCH;
		t = now() - t0;
	} while (t < secs);
	printf("token junk:  %10.0f rejected/s\n", n / t);

	/* vault: a typical personal part (~300 bytes of JSON) */
	{
		uint8_t pt[300], ct[300 + SMILE_VAULT_CT_OVERHEAD], wk[SMILE_VAULT_WRAPPED_KEY_BYTES];
		uint8_t back[300];
		size_t ct_len, back_len;
		uint8_t aad[8] = {0};
		memset(pt, 'x', sizeof(pt));
		n = 0;
		t0 = now();
		do {
			for (int i = 0; i < BATCH; i++) {
				aad[7] = (uint8_t)i;
				if (smile_vault_seal(v, aad, sizeof(aad), pt, sizeof(pt), wk, ct,
						     sizeof(ct), &ct_len, NULL) != SMILE_OK)
					goto out;
			}
			n += BATCH;
			t = now() - t0;
		} while (t < secs);
		printf("vault seal:  %10.0f shipments/s  (300 B, one core)\n", n / t);
		n = 0;
		t0 = now();
		do {
			for (int i = 0; i < BATCH; i++)
				if (smile_vault_open(v, aad, sizeof(aad), wk, ct, ct_len, back,
						     sizeof(back), &back_len, NULL) != SMILE_OK)
					goto out;
			n += BATCH;
			t = now() - t0;
		} while (t < secs);
		printf("vault open:  %10.0f shipments/s  (300 B, one core)\n", n / t);
		sodium_memzero(back, sizeof(back));
	}
	rc = sum == 0; /* keep the opens from being optimised away */
out:
	if (rc != 0)
		fprintf(stderr, "bench_token: an operation failed\n");
	smile_token_keyring_free(kr);
	smile_vault_free(v);
	sodium_memzero(key, sizeof(key));
	return rc;
}
