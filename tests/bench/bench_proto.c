/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_proto.c - what one core spends on the device protocol
 * (docs/protocol.md): a device building a scan, the gateway verifying it,
 * sealing a revealed reply, a device opening it, and the cost the shared-key
 * cache saves. Prints figures; never judges them.
 *
 *   bench_proto [SECONDS-PER-FIGURE]   (default 1.0)
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smile/device.h"
#include "smile/proto.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t counter;

static enum smile_err mem_read(void *ctx, uint64_t *next)
{
	(void)ctx;
	*next = counter;
	return SMILE_OK;
}

static enum smile_err mem_write(void *ctx, uint64_t next)
{
	(void)ctx;
	counter = next;
	return SMILE_OK;
}

static void report(const char *what, unsigned long n, double t)
{
	printf("  %-52s %9.0f /s  %7.1f us\n", what, (double)n / t, t * 1e6 / (double)n);
}

#define LOOP(what, body)                                                   \
	do {                                                               \
		double t0_ = now(), t_;                                    \
		unsigned long n_ = 0;                                      \
		do {                                                       \
			for (int i_ = 0; i_ < 64; i_++, n_++) {            \
				body;                                      \
			}                                                  \
		} while ((t_ = now() - t0_) < secs);                       \
		report(what, n_, t_);                                      \
	} while (0)

int main(int argc, char **argv)
{
	double secs = argc > 1 ? strtod(argv[1], NULL) : 1.0;
	static const char contact[] =
		"{\"name\":\"Zofia Łukasiewicz-Nowak\",\"phone\":\"+48601234567\","
		"\"address\":\"ul. Świętokrzyska 12 m. 34, 00-116 Warszawa\"}";
	static const char masked[] =
		"{\"name\":\"Z**** Ł*\",\"phone\":\"+48*******67\",\"address\":\"00-116 Warszawa\"}";
	struct smile_device_keys dk, gk;
	struct smile_device dev;
	struct smile_seq_store st = {NULL, mem_read, mem_write};
	struct smile_seq seq;
	struct smile_scan s;
	struct smile_reply r, out;
	uint8_t scan[SMILE_SCAN_MAX_BYTES], reply[SMILE_REPLY_MAX_BYTES], dg[32], k[32];
	uint8_t pt[SMILE_PROTO_CONTACT_MAX];
	size_t sn = 0, rn = 0, ptn = 0;
	unsigned long bad = 0;

	if (secs <= 0 || secs > 60)
		secs = 1.0;
	if (smile_proto_init() != SMILE_OK || smile_device_keygen("courier-01", &dk, NULL) ||
	    smile_device_keygen("gateway", &gk, NULL) ||
	    smile_device_init(&dev, &dk, gk.sign_pk, gk.box_pk, NULL) ||
	    smile_seq_open(&seq, &st, 1, NULL) ||
	    smile_proto_shared_key(gk.box_sk, dk.box_pk, k)) {
		fprintf(stderr, "bench_proto: setup failed\n");
		return 1;
	}
	memset(&s, 0, sizeof(s));
	s.event = SMILE_EVENT_OUT_FOR_DELIVERY;
	s.token = (const uint8_t *)"SW1:NCK6YVK9HK*T3U1-OIO%3M2XSN$IZ+QNQ8AEO.71IT9N4";
	s.token_len = 49;
	s.time_ms = s.scanned_ms = 1767225600000ULL;
	s.has_location = 1;
	s.location.lat_e6 = 52229676;
	s.location.lon_e6 = 21012229;

	printf("device protocol, one core (libsodium %s)\n", sodium_version_string());
	LOOP("device: build + sign scan (seq block 1)",
	     bad += smile_device_build_scan(&dev, &seq, &s, scan, sizeof(scan), &sn, NULL) != 0);
	printf("  scan size %zu bytes\n", sn);
	LOOP("gateway: decode + verify scan",
	     bad += smile_scan_verify(scan, sn, dk.sign_pk, NULL) != 0);
	LOOP("gateway: scan digest", bad += smile_scan_digest(scan, sn, dg) != 0);
	LOOP("gateway: shared key (uncached X25519)",
	     bad += smile_proto_shared_key(gk.box_sk, dk.box_pk, k) != 0);
	memset(&r, 0, sizeof(r));
	r.device_id = "courier-01";
	r.device_id_len = 10;
	r.seq = s.seq;
	r.scan_digest = dg;
	r.time_ms = 1767225600100ULL;
	r.status = SMILE_STATUS_REVEALED;
	r.waybill = "SW2601010000017";
	r.waybill_len = 15;
	r.masked = (const uint8_t *)masked;
	r.masked_len = strlen(masked);
	r.contact = (const uint8_t *)contact;
	r.contact_len = strlen(contact);
	LOOP("gateway: seal + sign revealed reply",
	     bad += smile_reply_encode(&r, k, gk.sign_sk, reply,
				       sizeof(reply), &rn, NULL) != 0);
	printf("  reply size %zu bytes\n", rn);
	LOOP("device: verify + match + decrypt reply",
	     bad += smile_device_open_reply(&dev, scan, sn, reply, rn, &out, pt, sizeof(pt), &ptn,
					    NULL) != 0);
	LOOP("gateway: full scan->reply (verify+digest+seal+sign)", {
		bad += smile_scan_verify(scan, sn, dk.sign_pk, NULL) != 0;
		bad += smile_scan_digest(scan, sn, dg) != 0;
		bad += smile_reply_encode(&r, k, gk.sign_sk, reply, sizeof(reply), &rn, NULL) != 0;
	});
	sodium_memzero(pt, sizeof(pt));
	sodium_memzero(k, sizeof(k));
	smile_device_wipe(&dev);
	smile_device_keys_wipe(&dk);
	smile_device_keys_wipe(&gk);
	if (bad) {
		fprintf(stderr, "bench_proto: %lu operations failed\n", bad);
		return 1;
	}
	return 0;
}
