/* SPDX-License-Identifier: Apache-2.0 */
/*
 * loadgen.c - smile-loadgen: simulated handhelds that scan parcels through the
 * real broker and check every reply the gateway sends (issue 5, point 9).
 *
 *   smile-loadgen enrol    --seed S --devices N [--role R]   enrolment JSON lines
 *   smile-loadgen run      --gateway-sign-pk B64 --gateway-box-pk B64 --tokens FILE ...
 *   smile-loadgen selftest                                    TAP self-checks
 *
 * The idea: a closed loop per device. Each simulated device keeps exactly one
 * scan outstanding; the reply is checked on the network thread of the
 * connection that carries the device (libmosquitto's loop_start thread), with
 * the real device core (smile_device_open_reply: structure, gateway signature,
 * addressee, scan digest and sequence, contact decryption), and that same
 * callback signs and publishes the device's next scan. So the offered load
 * follows the gateway's speed, latency is one publish-to-reply interval, and
 * nothing but the device's own mutex is shared between threads: statistics
 * live per connection and are merged after the threads have stopped.
 *
 * Keys are derived from a seed (BLAKE2b, see lg_derive_keys), so `enrol` and
 * `run` agree on every device without a file of secret keys. Sequence numbers
 * start at the wall clock in microseconds, so runs against the same gateway
 * (which stores each device's last sequence) keep growing.
 *
 * The only TU of the tool (the Makefile builds tools/NAME.c alone), so the
 * pieces are static and the self-test below exercises them directly.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <mosquitto.h>
#include <sodium.h>

#include "smile/clock.h"
#include "smile/buf.h"
#include "smile/device.h"
#include "smile/error.h"
#include "smile/proto.h"

/* The protocol test vectors (docs/protocol.md "Test vectors"): one copy,
 * shared with the device core's unit tests; used by `selftest` only. */
#include "../tests/unit/device/proto_vectors.h"

/* ------------------------------------------------------------ limits */

#define LG_DEVICES_MAX 100000
#define LG_CONNECTIONS_MAX 64
#define LG_TOKENS_MAX 100000
#define LG_TOKEN_LINE_MAX 4096
#define LG_PREFIX_MAX 20          /* prefix + "-" + 5 digits fits an id */
#define LG_SEED_MAX 256
#define LG_DURATION_MAX 86400
#define LG_SUB_BATCH 100          /* reply topics per SUBSCRIBE packet */
#define LG_READY_TIMEOUT_MS 10000 /* connect + subscribe, every connection */
#define LG_PREV 16                /* earlier scans a late reply may still answer */
#define LG_LINGER_MS 300          /* after the drain: catch late duplicates */
#define LG_PROGRESS_MS 5000
#define LG_HOUSEKEEPING_NS 20000000u /* retries and progress, every 20 ms */
#define LG_ERR_SLOTS 128          /* enum smile_err values fit below this */
#define LG_KEY_CONTEXT "smile-loadgen v1" /* 16 bytes: BLAKE2b key minimum */

/* Latency histogram, microseconds: exact below 1024 us, then 64 sub-buckets
 * per power of two (under 1.6 % error), up to 2^40 us. */
#define LG_HIST_LINEAR 1024
#define LG_HIST_SUB 64
#define LG_HIST_N (LG_HIST_LINEAR + 31 * LG_HIST_SUB)

/* ------------------------------------------------------------ options */

enum lg_mode { LG_MODE_ENROL = 1, LG_MODE_RUN = 2 };

struct lg_opts {
	enum lg_mode mode;
	const char *seed;
	const char *prefix;
	long devices;
	const char *role;
	const char *out;
	const char *host;
	long port;
	const char *username;
	const char *password_file;
	uint8_t gw_sign_pk[SMILE_PROTO_PK_BYTES];
	uint8_t gw_box_pk[SMILE_PROTO_PK_BYTES];
	int have_sign_pk, have_box_pk;
	long connections;
	const char *tokens;
	enum smile_event event;
	long duration_s;
	long drain_s;
	long retry_ms;
	long rate;           /* scans/s over all devices; 0: each device sends on each reply */
	long long seq_start; /* 0: the wall clock in microseconds */
	int progress;
	int help;
};

static const char usage[] =
	"usage: smile-loadgen enrol [--seed S] [--prefix P] [--devices N] [--role R] [--out FILE]\n"
	"       smile-loadgen run --gateway-sign-pk B64 --gateway-box-pk B64 --tokens FILE\n"
	"                         [--host H] [--port P] [--seed S] [--prefix P] [--devices N]\n"
	"                         [--connections C] [--event E] [--duration S] [--drain S]\n"
	"                         [--rate R] [--retry-ms MS] [--seq-start N] [--username U]\n"
	"                         [--password-file F] [--progress]\n"
	"       smile-loadgen selftest\n"
	"\n"
	"Simulated handhelds for benchmarks (docs/bench.md). Device keys derive from\n"
	"--seed, so `enrol` and `run` with the same --seed, --prefix and --devices\n"
	"describe the same devices (ids PREFIX-00000, PREFIX-00001, ...).\n"
	"\n"
	"enrol  one enrolment JSON line per device, with \"role\" added, for\n"
	"       POST /v1/devices. --role courier|hub|supervisor (default courier).\n"
	"run    each device keeps one signed scan outstanding on\n"
	"       smile/v1/dev/ID/scan (QoS 1, MQTT v5) and checks every reply with\n"
	"       the device core. Prints round trips/s, latency percentiles, replies\n"
	"       by status and reason, bad, lost and duplicated replies; exits 1 when\n"
	"       any reply was bad, lost, duplicated or stray.\n"
	"       --rate R paces the scans: R per second over all devices, device i\n"
	"       due every devices/R s (a device still waiting for its reply sends\n"
	"       as soon as it arrives). --rate 0 (default): closed loop, each\n"
	"       device sends its next scan the moment a reply arrives, which\n"
	"       measures capacity; latency is then devices / rate (Little's law).\n"
	"\n"
	"defaults: --seed smile-bench --prefix lg --devices 200 --connections 4\n"
	"          --host 127.0.0.1 --port 1883 --event out_for_delivery --duration 30\n"
	"          --drain 5 --rate 0 --retry-ms 0 (never retransmit; with MS > 0 a\n"
	"          scan unanswered for MS, or answered error, is resent unchanged)\n"
	"          --seq-start: the clock in microseconds\n";

static void lg_opts_defaults(struct lg_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->seed = "smile-bench";
	o->prefix = "lg";
	o->devices = 200;
	o->role = "courier";
	o->host = "127.0.0.1";
	o->port = 1883;
	o->connections = 4;
	o->event = SMILE_EVENT_OUT_FOR_DELIVERY;
	o->duration_s = 30;
	o->drain_s = 5;
}

static enum smile_err lg_parse_long(const char *flag, const char *v, long lo, long hi, long *out,
				    struct smile_error *e)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0')
		return smile_error_set(e, SMILE_ERR_INVALID, flag, "not a whole number");
	if (n < lo || n > hi)
		return smile_error_set(e, SMILE_ERR_INVALID, flag, "need %ld-%ld", lo, hi);
	*out = n;
	return SMILE_OK;
}

static enum smile_err lg_parse_key(const char *flag, const char *v,
				   uint8_t out[SMILE_PROTO_PK_BYTES], struct smile_error *e)
{
	if (smile_proto_key_from_base64(v, strlen(v), out) != SMILE_OK)
		return smile_error_set(e, SMILE_ERR_INVALID, flag,
				       "need 44 characters of padded base64 (32 bytes)");
	return SMILE_OK;
}

static int lg_prefix_ok(const char *p)
{
	size_t n = strlen(p);
	return n >= 1 && n <= LG_PREFIX_MAX && smile_proto_id_valid(p, n);
}

/*
 * Parse argv[1..argc) (argv[1] is the mode) into o. Flags take their value as
 * the next argument. Returns SMILE_OK (o->help set for --help); or
 * SMILE_ERR_INVALID with e naming the flag (unknown flag or mode, missing or
 * bad value, a flag the mode does not take, a required flag missing, more
 * connections than devices).
 */
static enum smile_err lg_parse_args(int argc, char **argv, struct lg_opts *o,
				    struct smile_error *e)
{
	enum smile_err err = SMILE_OK;
	long v;

	lg_opts_defaults(o);
	if (argc < 2)
		return smile_error_set(e, SMILE_ERR_INVALID, "mode", "need enrol, run or selftest");
	if (strcmp(argv[1], "enrol") == 0)
		o->mode = LG_MODE_ENROL;
	else if (strcmp(argv[1], "run") == 0)
		o->mode = LG_MODE_RUN;
	else
		return smile_error_set(e, SMILE_ERR_INVALID, "mode", "need enrol, run or selftest");

	for (int i = 2; i < argc && err == SMILE_OK; i++) {
		const char *f = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		int run_only = 1, takes_value = 1;

		if (strcmp(f, "--help") == 0 || strcmp(f, "-h") == 0) {
			o->help = 1;
			return SMILE_OK;
		}
		if (strcmp(f, "--progress") == 0) {
			o->progress = 1;
			takes_value = 0;
		} else if (val == NULL) {
			/* every other flag takes a value; unknown ones fail below */
			if (strncmp(f, "--", 2) == 0)
				return smile_error_set(e, SMILE_ERR_INVALID, f, "needs a value");
		}
		if (!takes_value) {
			/* done */
		} else if (strcmp(f, "--seed") == 0) {
			run_only = 0;
			if (strlen(val) < 1 || strlen(val) > LG_SEED_MAX)
				err = smile_error_set(e, SMILE_ERR_INVALID, f, "need 1-%d bytes",
						      LG_SEED_MAX);
			o->seed = val;
		} else if (strcmp(f, "--prefix") == 0) {
			run_only = 0;
			if (!lg_prefix_ok(val))
				err = smile_error_set(e, SMILE_ERR_INVALID, f,
						      "need 1-%d of [A-Za-z0-9_-]", LG_PREFIX_MAX);
			o->prefix = val;
		} else if (strcmp(f, "--devices") == 0) {
			run_only = 0;
			err = lg_parse_long(f, val, 1, LG_DEVICES_MAX, &o->devices, e);
		} else if (strcmp(f, "--role") == 0) {
			run_only = 0;
			if (strcmp(val, "courier") != 0 && strcmp(val, "hub") != 0 &&
			    strcmp(val, "supervisor") != 0)
				err = smile_error_set(e, SMILE_ERR_INVALID, f,
						      "need courier, hub or supervisor");
			o->role = val;
			if (o->mode != LG_MODE_ENROL)
				err = smile_error_set(e, SMILE_ERR_INVALID, f, "only for enrol");
		} else if (strcmp(f, "--out") == 0) {
			run_only = 0;
			o->out = val;
			if (o->mode != LG_MODE_ENROL)
				err = smile_error_set(e, SMILE_ERR_INVALID, f, "only for enrol");
		} else if (strcmp(f, "--host") == 0) {
			if (strlen(val) < 1 || strlen(val) > 255)
				err = smile_error_set(e, SMILE_ERR_INVALID, f, "need 1-255 bytes");
			o->host = val;
		} else if (strcmp(f, "--port") == 0) {
			err = lg_parse_long(f, val, 1, 65535, &o->port, e);
		} else if (strcmp(f, "--username") == 0) {
			o->username = val;
		} else if (strcmp(f, "--password-file") == 0) {
			o->password_file = val;
		} else if (strcmp(f, "--gateway-sign-pk") == 0) {
			err = lg_parse_key(f, val, o->gw_sign_pk, e);
			o->have_sign_pk = 1;
		} else if (strcmp(f, "--gateway-box-pk") == 0) {
			err = lg_parse_key(f, val, o->gw_box_pk, e);
			o->have_box_pk = 1;
		} else if (strcmp(f, "--connections") == 0) {
			err = lg_parse_long(f, val, 1, LG_CONNECTIONS_MAX, &o->connections, e);
		} else if (strcmp(f, "--tokens") == 0) {
			o->tokens = val;
		} else if (strcmp(f, "--event") == 0) {
			if (smile_proto_event_from_name(val, &o->event) != SMILE_OK)
				err = smile_error_set(e, SMILE_ERR_INVALID, f,
						      "not an event name (pickup, hub_in, ...)");
		} else if (strcmp(f, "--duration") == 0) {
			err = lg_parse_long(f, val, 1, LG_DURATION_MAX, &o->duration_s, e);
		} else if (strcmp(f, "--drain") == 0) {
			err = lg_parse_long(f, val, 0, 600, &o->drain_s, e);
		} else if (strcmp(f, "--retry-ms") == 0) {
			err = lg_parse_long(f, val, 0, 600000, &o->retry_ms, e);
		} else if (strcmp(f, "--rate") == 0) {
			err = lg_parse_long(f, val, 0, 1000000, &o->rate, e);
		} else if (strcmp(f, "--seq-start") == 0) {
			/* leave room for a long run above it */
			err = lg_parse_long(f, val, 1, LONG_MAX / 2, &v, e);
			o->seq_start = v;
		} else {
			return smile_error_set(e, SMILE_ERR_INVALID, f, "unknown option");
		}
		if (err == SMILE_OK && run_only && o->mode != LG_MODE_RUN)
			err = smile_error_set(e, SMILE_ERR_INVALID, f, "only for run");
		if (takes_value)
			i++;
	}
	if (err != SMILE_OK)
		return err;
	if (o->mode == LG_MODE_RUN) {
		if (!o->have_sign_pk)
			return smile_error_set(e, SMILE_ERR_INVALID, "--gateway-sign-pk", "required");
		if (!o->have_box_pk)
			return smile_error_set(e, SMILE_ERR_INVALID, "--gateway-box-pk", "required");
		if (o->tokens == NULL)
			return smile_error_set(e, SMILE_ERR_INVALID, "--tokens", "required");
		if (o->connections > o->devices)
			return smile_error_set(e, SMILE_ERR_INVALID, "--connections",
					       "more connections than devices");
	}
	return SMILE_OK;
}

/* ------------------------------------------------------------ keys */

/*
 * Device `idx`'s keys from the seed text:
 *   master    = BLAKE2b-256(key = "smile-loadgen v1", msg = seed)
 *   sign seed = BLAKE2b-256(key = master, msg = "sign" || u32be(idx))
 *   box sk    = BLAKE2b-256(key = master, msg = "box\0" || u32be(idx))
 *   id        = PREFIX "-" idx as 5 digits
 * Returns SMILE_OK; SMILE_ERR_INVALID (prefix or index out of range);
 * SMILE_ERR_CRYPTO. Secrets on the stack are wiped.
 */
static enum smile_err lg_derive_keys(const char *seed, const char *prefix, size_t idx,
				     struct smile_device_keys *k, struct smile_error *e)
{
	uint8_t master[32], sign_seed[32], box_sk[32], msg[8];
	char id[SMILE_PROTO_ID_MAX + 1];
	enum smile_err err = SMILE_OK;
	int n;

	memset(k, 0, sizeof(*k));
	if (!lg_prefix_ok(prefix) || idx >= LG_DEVICES_MAX)
		return smile_error_set(e, SMILE_ERR_INVALID, "device", "prefix or index out of range");
	n = snprintf(id, sizeof(id), "%s-%05zu", prefix, idx);
	if (n < 0 || (size_t)n >= sizeof(id))
		return smile_error_set(e, SMILE_ERR_INVALID, "device", "id too long");
	msg[4] = (uint8_t)(idx >> 24);
	msg[5] = (uint8_t)(idx >> 16);
	msg[6] = (uint8_t)(idx >> 8);
	msg[7] = (uint8_t)idx;
	if (crypto_generichash(master, sizeof(master), (const uint8_t *)seed, strlen(seed),
			       (const uint8_t *)LG_KEY_CONTEXT, strlen(LG_KEY_CONTEXT)) != 0) {
		err = smile_error_set(e, SMILE_ERR_CRYPTO, "seed", "BLAKE2b failed");
		goto out;
	}
	memcpy(msg, "sign", 4);
	if (crypto_generichash(sign_seed, sizeof(sign_seed), msg, sizeof(msg), master,
			       sizeof(master)) != 0) {
		err = smile_error_set(e, SMILE_ERR_CRYPTO, "seed", "BLAKE2b failed");
		goto out;
	}
	memcpy(msg, "box\0", 4);
	if (crypto_generichash(box_sk, sizeof(box_sk), msg, sizeof(msg), master,
			       sizeof(master)) != 0) {
		err = smile_error_set(e, SMILE_ERR_CRYPTO, "seed", "BLAKE2b failed");
		goto out;
	}
	err = smile_device_keys_from_seeds(id, sign_seed, box_sk, k, e);
out:
	sodium_memzero(master, sizeof(master));
	sodium_memzero(sign_seed, sizeof(sign_seed));
	sodium_memzero(box_sk, sizeof(box_sk));
	return err;
}

/* The enrolment JSON of k with "role" added, NUL-terminated, into out.
 * Returns SMILE_OK or SMILE_ERR_BUFFER_SMALL. */
static enum smile_err lg_enrol_line(const struct smile_device_keys *k, const char *role,
				    char *out, size_t cap)
{
	size_t len = 0;
	int n;

	if (smile_device_enrolment_json(k, out, cap, &len) != SMILE_OK || len < 2 ||
	    out[len - 1] != '}')
		return SMILE_ERR_BUFFER_SMALL;
	n = snprintf(out + len - 1, cap - (len - 1), ",\"role\":\"%s\"}", role);
	if (n < 0 || (size_t)n >= cap - (len - 1))
		return SMILE_ERR_BUFFER_SMALL;
	return SMILE_OK;
}

/* ------------------------------------------------------------ tokens */

struct lg_token {
	uint8_t len;
	char s[SMILE_PROTO_TOKEN_MAX];
};

/*
 * Read one token per line (blank lines and lines starting with '#' skipped,
 * a trailing '\r' dropped). Returns SMILE_OK with *out (caller frees) and
 * *n >= 1; SMILE_ERR_IO (cannot open or read); SMILE_ERR_INVALID ("line N":
 * a token not 1-128 printable ASCII characters, or no token at all);
 * SMILE_ERR_TOO_LARGE (a line over 4096 bytes, or more than 100000 tokens);
 * SMILE_ERR_NOMEM.
 */
static enum smile_err lg_load_tokens(const char *path, struct lg_token **out, size_t *n,
				     struct smile_error *e)
{
	struct smile_buf line;
	struct lg_token *v = NULL, *grown;
	size_t count = 0, cap = 0;
	long lineno = 0;
	enum smile_err err = SMILE_OK;
	char field[48];
	FILE *f;

	*out = NULL;
	*n = 0;
	f = fopen(path, "r");
	if (f == NULL)
		return smile_error_set(e, SMILE_ERR_IO, "--tokens", "cannot open: %s",
				       strerror(errno));
	smile_buf_init(&line, LG_TOKEN_LINE_MAX);
	for (;;) {
		enum smile_err rd = smile_buf_getline(&line, f);
		size_t len;

		lineno++;
		snprintf(field, sizeof(field), "--tokens line %ld", lineno);
		if (rd == SMILE_ERR_NOT_FOUND)
			break;
		if (rd != SMILE_OK) {
			err = smile_error_set(e, rd, field, "%s", smile_strerror(rd));
			goto out;
		}
		len = line.len;
		if (len > 0 && line.data[len - 1] == '\r')
			len--;
		if (len == 0 || line.data[0] == '#')
			continue;
		if (len > SMILE_PROTO_TOKEN_MAX) {
			err = smile_error_set(e, SMILE_ERR_INVALID, field, "token over %d characters",
					      SMILE_PROTO_TOKEN_MAX);
			goto out;
		}
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)line.data[i];
			if (c < 0x20 || c > 0x7e) {
				err = smile_error_set(e, SMILE_ERR_INVALID, field,
						      "token has a character outside 0x20-0x7e");
				goto out;
			}
		}
		if (count == LG_TOKENS_MAX) {
			err = smile_error_set(e, SMILE_ERR_TOO_LARGE, "--tokens",
					      "more than %d tokens", LG_TOKENS_MAX);
			goto out;
		}
		if (count == cap) {
			cap = cap ? cap * 2 : 256;
			grown = realloc(v, cap * sizeof(*v));
			if (grown == NULL) {
				err = smile_error_set(e, SMILE_ERR_NOMEM, "--tokens", "out of memory");
				goto out;
			}
			v = grown;
		}
		v[count].len = (uint8_t)len;
		memcpy(v[count].s, line.data, len);
		count++;
	}
	if (ferror(f)) {
		err = smile_error_set(e, SMILE_ERR_IO, "--tokens", "read error");
		goto out;
	}
	if (count == 0) {
		err = smile_error_set(e, SMILE_ERR_INVALID, "--tokens", "no token in the file");
		goto out;
	}
out:
	smile_buf_release(&line);
	fclose(f);
	if (err != SMILE_OK) {
		free(v);
		return err;
	}
	*out = v;
	*n = count;
	return SMILE_OK;
}

/* ------------------------------------------------------------ statistics */

struct lg_stats {
	uint64_t hist[LG_HIST_N];
	uint64_t completed;            /* scans answered (any status) */
	uint64_t lat_sum_us, lat_max_us;
	uint64_t by_status[SMILE_STATUS_ERROR + 1];  /* [0]: a status this tool does not know */
	uint64_t by_reason[SMILE_REASON_LAST + 2];   /* last slot: a newer reason code */
	uint64_t bad;                  /* replies that failed the device core's checks */
	uint64_t bad_by_err[LG_ERR_SLOTS];
	uint64_t bad_contact;          /* revealed, but the contact is not a JSON object */
	uint64_t duplicated;           /* a second genuine reply to an answered scan */
	uint64_t retransmit_replies;   /* expected extra replies to retransmitted scans */
	uint64_t error_retried;        /* error replies to scans then retransmitted (8.3) */
	uint64_t misrouted;            /* genuine reply addressed to another device */
	uint64_t stray;                /* reply on a topic of no device of this connection */
};

static size_t lg_hist_index(uint64_t us)
{
	unsigned msb;
	size_t idx;

	if (us < LG_HIST_LINEAR)
		return (size_t)us;
	msb = 63u - (unsigned)__builtin_clzll(us); /* >= 10 */
	idx = LG_HIST_LINEAR + (size_t)(msb - 10) * LG_HIST_SUB +
	      (size_t)((us >> (msb - 6)) & (LG_HIST_SUB - 1));
	return idx < LG_HIST_N ? idx : LG_HIST_N - 1;
}

/* Largest value that lands in bucket idx. */
static uint64_t lg_hist_upper(size_t idx)
{
	unsigned msb, sub;

	if (idx < LG_HIST_LINEAR)
		return idx;
	msb = 10u + (unsigned)((idx - LG_HIST_LINEAR) / LG_HIST_SUB);
	sub = (unsigned)((idx - LG_HIST_LINEAR) % LG_HIST_SUB);
	return (((uint64_t)LG_HIST_SUB + sub + 1) << (msb - 6)) - 1;
}

static void lg_stats_latency(struct lg_stats *s, uint64_t us)
{
	s->hist[lg_hist_index(us)]++;
	s->lat_sum_us += us;
	if (us > s->lat_max_us)
		s->lat_max_us = us;
}

/* The q-quantile (0 < q <= 1) in microseconds: the upper edge of its bucket,
 * never above the exact maximum. 0 when nothing was recorded. */
static uint64_t lg_stats_quantile(const struct lg_stats *s, double q)
{
	uint64_t total = 0, seen = 0, rank;

	for (size_t i = 0; i < LG_HIST_N; i++)
		total += s->hist[i];
	if (total == 0)
		return 0;
	rank = (uint64_t)(q * (double)total + 0.999999);
	if (rank < 1)
		rank = 1;
	for (size_t i = 0; i < LG_HIST_N; i++) {
		seen += s->hist[i];
		if (seen >= rank) {
			uint64_t u = lg_hist_upper(i);
			return u < s->lat_max_us ? u : s->lat_max_us;
		}
	}
	return s->lat_max_us;
}

static void lg_stats_merge(struct lg_stats *into, const struct lg_stats *s)
{
	for (size_t i = 0; i < LG_HIST_N; i++)
		into->hist[i] += s->hist[i];
	into->completed += s->completed;
	into->lat_sum_us += s->lat_sum_us;
	if (s->lat_max_us > into->lat_max_us)
		into->lat_max_us = s->lat_max_us;
	for (size_t i = 0; i <= SMILE_STATUS_ERROR; i++)
		into->by_status[i] += s->by_status[i];
	for (size_t i = 0; i < SMILE_REASON_LAST + 2; i++)
		into->by_reason[i] += s->by_reason[i];
	into->bad += s->bad;
	for (size_t i = 0; i < LG_ERR_SLOTS; i++)
		into->bad_by_err[i] += s->bad_by_err[i];
	into->bad_contact += s->bad_contact;
	into->duplicated += s->duplicated;
	into->retransmit_replies += s->retransmit_replies;
	into->error_retried += s->error_retried;
	into->misrouted += s->misrouted;
	into->stray += s->stray;
}

/* ------------------------------------------------------------ devices */

struct lg_conn;

/* One simulated handheld. `lock` guards everything below it; the reply
 * handler (network thread) and the main thread (first scan, retries, the
 * final count) both take it. */
struct lg_dev {
	pthread_mutex_t lock;
	struct smile_device core;  /* keys, gateway keys, shared key: secret */
	struct smile_seq seq;
	struct smile_seq_store store;
	uint64_t stored;           /* the "durable" sequence reservation, in memory */
	struct lg_conn *conn;
	size_t idx;
	char scan_topic[SMILE_PROTO_TOPIC_MAX];
	char reply_topic[SMILE_PROTO_TOPIC_MAX];
	uint8_t scan[SMILE_SCAN_MAX_BYTES]; /* the current (or last answered) scan */
	size_t scan_len;
	int outstanding;           /* scan[] sent and not yet answered */
	uint64_t sent_ns;          /* first send of scan[] */
	uint64_t last_send_ns;     /* latest (re)send of scan[] */
	unsigned sends;            /* times scan[] was published */
	unsigned replies;          /* genuine replies to scan[] */
	/* The scans answered before scan[], newest at prev[prev_next - 1]: a
	 * late reply to a resent scan (from a node that was slow, or down and
	 * back) may arrive after the device moved on, up to one per send. */
	struct {
		uint8_t digest[SMILE_PROTO_DIGEST_BYTES];
		unsigned sends, replies;
	} prev[LG_PREV];
	unsigned prev_n, prev_next;
	uint64_t scans;            /* scans built: picks the next token */
	int owed;                  /* paced: its slot came while busy; send on the reply */
	int retry_errors;          /* --retry-ms: an error reply leaves the scan outstanding */
};

static enum smile_err lg_seq_read(void *ctx, uint64_t *next)
{
	*next = ((struct lg_dev *)ctx)->stored;
	return SMILE_OK;
}

static enum smile_err lg_seq_write(void *ctx, uint64_t next)
{
	((struct lg_dev *)ctx)->stored = next;
	return SMILE_OK;
}

/* Set up d (caller-allocated, any content) for keys k and the gateway's keys;
 * its sequence numbers start at seq_start. Returns SMILE_OK, or the
 * smile_device_init / smile_seq_open / smile_proto_topic errors. */
static enum smile_err lg_dev_init(struct lg_dev *d, const struct smile_device_keys *k,
				  const uint8_t gw_sign_pk[SMILE_PROTO_PK_BYTES],
				  const uint8_t gw_box_pk[SMILE_PROTO_PK_BYTES], uint64_t seq_start,
				  size_t idx, struct smile_error *e)
{
	enum smile_err err;

	memset(d, 0, sizeof(*d));
	d->idx = idx;
	d->stored = seq_start;
	d->store.ctx = d;
	d->store.read = lg_seq_read;
	d->store.write = lg_seq_write;
	err = smile_device_init(&d->core, k, gw_sign_pk, gw_box_pk, e);
	if (err == SMILE_OK)
		err = smile_seq_open(&d->seq, &d->store, SMILE_SEQ_BLOCK_MAX, e);
	if (err == SMILE_OK)
		err = smile_proto_topic(d->scan_topic, sizeof(d->scan_topic), k->id,
					SMILE_TOPIC_SCAN);
	if (err == SMILE_OK)
		err = smile_proto_topic(d->reply_topic, sizeof(d->reply_topic), k->id,
					SMILE_TOPIC_REPLY);
	if (err == SMILE_OK && pthread_mutex_init(&d->lock, NULL) != 0)
		err = smile_error_set(e, SMILE_ERR_INTERNAL, "device", "mutex init failed");
	if (err != SMILE_OK)
		smile_device_wipe(&d->core);
	return err;
}

static void lg_dev_release(struct lg_dev *d)
{
	pthread_mutex_destroy(&d->lock);
	smile_device_wipe(&d->core);
}

/*
 * Build and sign d's next scan into d->scan (caller holds d->lock): the given
 * token and event, signed now. The previous scan's digest is kept so a late
 * reply to it is recognised. Returns SMILE_OK, or the smile_device_build_scan
 * errors (d->scan unchanged, nothing outstanding).
 */
static enum smile_err lg_dev_build(struct lg_dev *d, const struct lg_token *tok,
				   enum smile_event ev, uint64_t time_ms, uint64_t scanned_ms,
				   struct smile_error *e)
{
	struct smile_scan s;
	uint8_t buf[SMILE_SCAN_MAX_BYTES];
	size_t len = 0;
	enum smile_err err;

	memset(&s, 0, sizeof(s));
	s.event = ev;
	s.token = (const uint8_t *)tok->s;
	s.token_len = tok->len;
	s.time_ms = time_ms;
	s.scanned_ms = scanned_ms;
	err = smile_device_build_scan(&d->core, &d->seq, &s, buf, sizeof(buf), &len, e);
	if (err != SMILE_OK)
		return err;
	if (d->scan_len > 0 &&
	    smile_scan_digest(d->scan, d->scan_len, d->prev[d->prev_next].digest) == SMILE_OK) {
		d->prev[d->prev_next].sends = d->sends;
		d->prev[d->prev_next].replies = d->replies;
		d->prev_next = (d->prev_next + 1) % LG_PREV;
		if (d->prev_n < LG_PREV)
			d->prev_n++;
	}
	memcpy(d->scan, buf, len);
	d->scan_len = len;
	d->outstanding = 1;
	d->sends = 0;
	d->replies = 0;
	d->scans++;
	return SMILE_OK;
}

enum lg_outcome {
	LG_DONE = 0,          /* answered the outstanding scan */
	LG_RETRANSMIT_REPLY,  /* another reply to a scan sent more than once */
	LG_ERROR_RETRY,       /* status error: retransmitted later, still outstanding */
	LG_DUPLICATE,         /* another reply to an answered scan, sent once */
	LG_BAD,               /* failed the device core's checks (or a bad contact) */
	LG_MISROUTED,         /* genuine, but addressed to another device */
	LG_STRAY              /* this device never sent a scan */
};

/* Is this genuine reply (not for scan[]) one more expected reply to one of
 * the device's earlier scans, within one reply per send? Counts it if so. */
static int lg_prev_reply(struct lg_dev *d, const uint8_t *msg, size_t len)
{
	struct smile_reply o;
	unsigned i;

	if (d->prev_n == 0 || smile_reply_decode(msg, len, &o, NULL) != SMILE_OK)
		return 0;
	for (i = 0; i < d->prev_n; i++) {
		unsigned at = (d->prev_next + LG_PREV - 1 - i) % LG_PREV;

		if (sodium_memcmp(o.scan_digest, d->prev[at].digest, SMILE_PROTO_DIGEST_BYTES) == 0)
			return ++d->prev[at].replies <= d->prev[at].sends;
	}
	return 0;
}

/*
 * Check a reply that arrived on d's reply topic (caller holds d->lock) and
 * count it in s. On LG_DONE the scan is answered (latency now_ns - sent_ns,
 * status and reason counted); a revealed contact is decrypted by the device
 * core, checked to be a JSON object, and wiped. A bad reply leaves the scan
 * outstanding, as a handheld ignores a forgery and keeps waiting.
 */
static enum lg_outcome lg_dev_reply(struct lg_dev *d, const uint8_t *msg, size_t len,
				    uint64_t now_ns, struct lg_stats *s)
{
	struct smile_reply r;
	struct smile_error e = {0};
	uint8_t contact[SMILE_PROTO_CONTACT_MAX];
	size_t clen = 0;
	enum lg_outcome out;
	enum smile_err err;

	if (d->scan_len == 0) {
		s->stray++;
		return LG_STRAY;
	}
	err = smile_device_open_reply(&d->core, d->scan, d->scan_len, msg, len, &r, contact,
				      sizeof(contact), &clen, &e);
	if (err == SMILE_ERR_CONFLICT) {
		if (strcmp(e.field, "reply.device_id") == 0) {
			s->misrouted++;
			return LG_MISROUTED;
		}
		/* Genuine, for another of this device's scans: all earlier ones
		 * were answered before scan[] was built. */
		if (lg_prev_reply(d, msg, len)) {
			s->retransmit_replies++;
			return LG_RETRANSMIT_REPLY;
		}
		s->duplicated++;
		return LG_DUPLICATE;
	}
	if (err != SMILE_OK) {
		s->bad++;
		s->bad_by_err[(unsigned)err < LG_ERR_SLOTS ? (unsigned)err : 0]++;
		return LG_BAD;
	}
	if (!d->outstanding) {
		d->replies++;
		if (d->replies > d->sends) {
			s->duplicated++;
			out = LG_DUPLICATE;
		} else {
			s->retransmit_replies++;
			out = LG_RETRANSMIT_REPLY;
		}
		sodium_memzero(contact, sizeof(contact));
		return out;
	}
	if (r.status == SMILE_STATUS_REVEALED &&
	    (clen < 2 || contact[0] != '{' || contact[clen - 1] != '}')) {
		s->bad++;
		s->bad_contact++;
	}
	sodium_memzero(contact, sizeof(contact));
	d->replies++;
	if (r.status == SMILE_STATUS_ERROR && d->retry_errors) {
		/* 8.3: on error the device may retransmit the same bytes after a
		 * backoff; with --retry-ms it does (lg_retry), as a handheld would
		 * when the gateway's store is away. */
		s->error_retried++;
		return LG_ERROR_RETRY;
	}
	d->outstanding = 0;
	if (d->sends == 0)
		d->sends = 1; /* built and answered without lg_send (self-test) */
	s->completed++;
	lg_stats_latency(s, now_ns > d->sent_ns ? (now_ns - d->sent_ns) / 1000 : 0);
	s->by_status[r.status >= SMILE_STATUS_REVEALED && r.status <= SMILE_STATUS_ERROR
			     ? (size_t)r.status
			     : 0]++;
	s->by_reason[r.reason <= SMILE_REASON_LAST ? r.reason : SMILE_REASON_LAST + 1]++;
	return LG_DONE;
}

/* ------------------------------------------------------------ the run */

struct lg_run;

/* One MQTT connection carrying ndevs devices. `stats` belongs to its network
 * thread while the run lasts. */
struct lg_conn {
	struct lg_run *run;
	struct mosquitto *mosq;
	size_t idx;
	struct lg_dev **devs;
	size_t ndevs;
	atomic_int subs_pending;
	atomic_int ready;
	atomic_int failed;
	atomic_uint connects;
	atomic_uint disconnects;
	struct lg_stats stats;
};

struct lg_run {
	const struct lg_opts *o;
	struct lg_dev *devs;
	size_t ndevs;
	struct lg_conn *conns;
	size_t nconns;
	const struct lg_token *tokens;
	size_t ntokens;
	atomic_int running;
	atomic_ullong completed;
	atomic_ullong sent;
	atomic_ullong retransmits;
	atomic_ullong publish_errors;
	atomic_ullong build_errors;
	atomic_ullong late_slots;  /* paced: slots that found their device still waiting */
};

static volatile sig_atomic_t lg_interrupted;

static void lg_on_signal(int sig)
{
	(void)sig;
	lg_interrupted = 1;
}

static uint64_t lg_now_ns(void)
{
	return (uint64_t)smile_mono_ns();
}

static uint64_t lg_wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void lg_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void lg_sleep_until(uint64_t mono_ns)
{
	struct timespec ts = {(time_t)(mono_ns / 1000000000u), (long)(mono_ns % 1000000000u)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* When paced slot j falls: t0 + j / rate seconds. */
static uint64_t lg_slot_ns(uint64_t t0, uint64_t j, long rate)
{
	return t0 + (uint64_t)((double)j * 1e9 / (double)rate);
}

/* Build d's next scan and publish it (QoS 1). Called from the main thread
 * (first scans) and from d's connection thread (after each reply). The scan
 * is copied out under the lock and published outside it, so no mosquitto
 * lock is ever taken while holding a device lock. */
static void lg_send(struct lg_run *run, struct lg_dev *d)
{
	uint8_t buf[SMILE_SCAN_MAX_BYTES];
	const struct lg_token *tok;
	struct smile_error e = {0};
	size_t len;
	uint64_t ms;
	int rc;

	if (!atomic_load(&run->running))
		return;
	pthread_mutex_lock(&d->lock);
	d->owed = 0;
	if (d->outstanding) { /* one scan outstanding per device, never two */
		pthread_mutex_unlock(&d->lock);
		return;
	}
	tok = &run->tokens[(d->idx + d->scans * run->ndevs) % run->ntokens];
	ms = lg_wall_us() / 1000u;
	if (lg_dev_build(d, tok, run->o->event, ms, ms, &e) != SMILE_OK) {
		pthread_mutex_unlock(&d->lock);
		if (atomic_fetch_add(&run->build_errors, 1) == 0) {
			char m[SMILE_ERROR_FIELD_MAX + SMILE_ERROR_MSG_MAX + 4];
			fprintf(stderr, "smile-loadgen: building a scan failed: %s\n",
				smile_error_format(&e, m, sizeof(m)));
		}
		return;
	}
	len = d->scan_len;
	memcpy(buf, d->scan, len);
	d->sent_ns = d->last_send_ns = lg_now_ns();
	d->sends = 1;
	pthread_mutex_unlock(&d->lock);
	rc = mosquitto_publish_v5(d->conn->mosq, NULL, d->scan_topic, (int)len, buf, 1, false, NULL);
	if (rc != MOSQ_ERR_SUCCESS)
		atomic_fetch_add(&run->publish_errors, 1);
	else
		atomic_fetch_add(&run->sent, 1);
}

/* Publish the outstanding scan again, byte for byte, when it has waited
 * retry_ms (docs/protocol.md "Replay and retransmission"). Main thread. */
static void lg_retry(struct lg_run *run, struct lg_dev *d, uint64_t now)
{
	uint8_t buf[SMILE_SCAN_MAX_BYTES];
	size_t len = 0;

	pthread_mutex_lock(&d->lock);
	if (d->outstanding &&
	    now - d->last_send_ns >= (uint64_t)run->o->retry_ms * 1000000u) {
		len = d->scan_len;
		memcpy(buf, d->scan, len);
		d->last_send_ns = now;
		d->sends++;
	}
	pthread_mutex_unlock(&d->lock);
	if (len == 0)
		return;
	atomic_fetch_add(&run->retransmits, 1);
	if (mosquitto_publish_v5(d->conn->mosq, NULL, d->scan_topic, (int)len, buf, 1, false,
				 NULL) != MOSQ_ERR_SUCCESS)
		atomic_fetch_add(&run->publish_errors, 1);
}

/* A paced slot of device d: send now, or as soon as its reply arrives. */
static void lg_pace(struct lg_run *run, struct lg_dev *d)
{
	int busy;

	pthread_mutex_lock(&d->lock);
	busy = d->outstanding;
	if (busy)
		d->owed = 1;
	pthread_mutex_unlock(&d->lock);
	if (busy)
		atomic_fetch_add(&run->late_slots, 1);
	else
		lg_send(run, d);
}

/* Every (re)connect: subscribe again to this connection's reply topics
 * (clean start: the broker forgot them), in batches. */
static void lg_on_connect(struct mosquitto *m, void *ud, int rc, int flags,
			  const mosquitto_property *props)
{
	struct lg_conn *c = ud;
	char *topics[LG_SUB_BATCH];
	(void)flags;
	(void)props;

	if (rc != 0) {
		fprintf(stderr, "smile-loadgen: connection %zu refused: %s\n", c->idx,
			mosquitto_reason_string(rc));
		atomic_store(&c->failed, 1);
		return;
	}
	atomic_fetch_add(&c->connects, 1);
	atomic_store(&c->subs_pending, (int)((c->ndevs + LG_SUB_BATCH - 1) / LG_SUB_BATCH));
	for (size_t i = 0; i < c->ndevs; i += LG_SUB_BATCH) {
		size_t n = c->ndevs - i < LG_SUB_BATCH ? c->ndevs - i : LG_SUB_BATCH;
		for (size_t j = 0; j < n; j++)
			topics[j] = c->devs[i + j]->reply_topic;
		if (mosquitto_subscribe_multiple(m, NULL, (int)n, topics, 1, 0, NULL) !=
		    MOSQ_ERR_SUCCESS) {
			fprintf(stderr, "smile-loadgen: connection %zu: subscribe failed\n", c->idx);
			atomic_store(&c->failed, 1);
			return;
		}
	}
}

static void lg_on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *granted)
{
	struct lg_conn *c = ud;
	(void)m;
	(void)mid;

	for (int i = 0; i < n; i++) {
		if (granted[i] != 1) {
			fprintf(stderr, "smile-loadgen: connection %zu: broker granted QoS %d, "
					"not 1 (ACL?)\n", c->idx, granted[i]);
			atomic_store(&c->failed, 1);
		}
	}
	if (atomic_fetch_sub(&c->subs_pending, 1) == 1)
		atomic_store(&c->ready, 1);
}

static void lg_on_disconnect(struct mosquitto *m, void *ud, int rc)
{
	struct lg_conn *c = ud;
	(void)m;
	(void)rc;
	atomic_fetch_add(&c->disconnects, 1);
}

/* The device a reply topic belongs to on this connection, or NULL. */
static struct lg_dev *lg_conn_find(struct lg_conn *c, const char *topic)
{
	char id[SMILE_PROTO_ID_MAX + 1];
	enum smile_topic kind;
	const char *prefix = c->run->o->prefix;
	size_t pn = strlen(prefix);
	char *end;
	unsigned long i;
	struct lg_dev *d;

	if (smile_proto_topic_parse(topic, id, &kind) != SMILE_OK || kind != SMILE_TOPIC_REPLY)
		return NULL;
	if (strncmp(id, prefix, pn) != 0 || id[pn] != '-')
		return NULL;
	errno = 0;
	i = strtoul(id + pn + 1, &end, 10);
	if (errno != 0 || *end != '\0' || i >= c->run->ndevs)
		return NULL;
	d = &c->run->devs[i];
	if (d->conn != c || strcmp(d->core.keys.id, id) != 0)
		return NULL;
	return d;
}

static void lg_on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
	struct lg_conn *c = ud;
	struct lg_dev *d;
	enum lg_outcome out;
	uint64_t now = lg_now_ns();
	int send_next;
	(void)m;

	d = lg_conn_find(c, msg->topic);
	if (d == NULL || msg->payloadlen < 0) {
		c->stats.stray++;
		return;
	}
	pthread_mutex_lock(&d->lock);
	out = lg_dev_reply(d, msg->payload, (size_t)msg->payloadlen, now, &c->stats);
	send_next = out == LG_DONE && (c->run->o->rate == 0 || d->owed);
	pthread_mutex_unlock(&d->lock);
	if (out == LG_DONE)
		atomic_fetch_add(&c->run->completed, 1);
	if (send_next)
		lg_send(c->run, d);
}

static int lg_read_password(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(out, 1, cap - 1, f);
	fclose(f);
	out[n] = '\0';
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
	return 0;
}

static int lg_conn_open(struct lg_conn *c, const struct lg_opts *o)
{
	char id[64];
	char pw[256];
	int rc;

	snprintf(id, sizeof(id), "smile-loadgen-%ld-%zu", (long)getpid(), c->idx);
	c->mosq = mosquitto_new(id, true, c);
	if (c->mosq == NULL) {
		fprintf(stderr, "smile-loadgen: mosquitto_new failed\n");
		return -1;
	}
	mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_int_option(c->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	/* one scan per device in flight each way: never let the window stall */
	mosquitto_int_option(c->mosq, MOSQ_OPT_RECEIVE_MAXIMUM, 65535);
	mosquitto_int_option(c->mosq, MOSQ_OPT_SEND_MAXIMUM, 65535);
	mosquitto_reconnect_delay_set(c->mosq, 1, 10, true);
	if (o->username) {
		pw[0] = '\0';
		if (o->password_file && lg_read_password(o->password_file, pw, sizeof(pw)) != 0) {
			fprintf(stderr, "smile-loadgen: --password-file: cannot read: %s\n",
				strerror(errno));
			return -1;
		}
		mosquitto_username_pw_set(c->mosq, o->username, o->password_file ? pw : NULL);
		sodium_memzero(pw, sizeof(pw));
	}
	mosquitto_connect_v5_callback_set(c->mosq, lg_on_connect);
	mosquitto_subscribe_callback_set(c->mosq, lg_on_subscribe);
	mosquitto_disconnect_callback_set(c->mosq, lg_on_disconnect);
	mosquitto_message_callback_set(c->mosq, lg_on_message);
	rc = mosquitto_connect_bind_v5(c->mosq, o->host, (int)o->port, 30, NULL, NULL);
	if (rc != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "smile-loadgen: connect to %s:%ld: %s\n", o->host, o->port,
			rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		return -1;
	}
	rc = mosquitto_loop_start(c->mosq);
	if (rc != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "smile-loadgen: loop_start: %s\n", mosquitto_strerror(rc));
		return -1;
	}
	return 0;
}

static size_t lg_count_outstanding(struct lg_run *run)
{
	size_t n = 0;
	for (size_t i = 0; i < run->ndevs; i++) {
		pthread_mutex_lock(&run->devs[i].lock);
		n += run->devs[i].outstanding != 0;
		pthread_mutex_unlock(&run->devs[i].lock);
	}
	return n;
}

static void lg_report(const struct lg_run *run, const struct lg_stats *s, double secs,
		      uint64_t at_stop, size_t lost)
{
	const struct lg_opts *o = run->o;
	double rate = secs > 0 ? (double)at_stop / secs : 0;
	uint64_t accepted = s->by_status[SMILE_STATUS_REVEALED] + s->by_status[SMILE_STATUS_RECORDED];
	unsigned reconnects = 0;
	struct rusage ru;
	double cpu = 0;

	if (getrusage(RUSAGE_SELF, &ru) == 0)
		cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		      (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	for (size_t i = 0; i < run->nconns; i++) {
		unsigned k = atomic_load(&run->conns[i].connects);
		reconnects += k > 0 ? k - 1 : 0;
	}
	printf("loadgen: %zu devices over %zu connections, event %s, %.1f s, ", run->ndevs,
	       run->nconns, smile_proto_event_name(o->event), secs);
	if (o->rate > 0)
		printf("paced at %ld scans/s (%llu slots found their device still waiting)\n",
		       o->rate, (unsigned long long)atomic_load(&run->late_slots));
	else
		printf("unpaced (closed loop)\n");
	printf("loadgen: %" PRIu64 " round trips in the window, %.1f round trips/s; "
	       "%" PRIu64 " answered in all\n", at_stop, rate, s->completed);
	printf("loadgen: latency ms p50 %.2f  p90 %.2f  p99 %.2f  max %.2f  mean %.2f\n",
	       (double)lg_stats_quantile(s, 0.50) / 1000.0,
	       (double)lg_stats_quantile(s, 0.90) / 1000.0,
	       (double)lg_stats_quantile(s, 0.99) / 1000.0, (double)s->lat_max_us / 1000.0,
	       s->completed ? (double)s->lat_sum_us / (double)s->completed / 1000.0 : 0.0);
	printf("loadgen: replies by status:");
	for (int st = SMILE_STATUS_REVEALED; st <= SMILE_STATUS_ERROR; st++)
		printf(" %s=%" PRIu64, smile_proto_status_name(st), s->by_status[st]);
	if (s->by_status[0])
		printf(" unknown=%" PRIu64, s->by_status[0]);
	printf("\nloadgen: replies by reason:");
	for (int r = 0; r <= SMILE_REASON_LAST + 1; r++)
		if (s->by_reason[r])
			printf(" %s=%" PRIu64, r <= SMILE_REASON_LAST ? smile_proto_reason_name(r)
								     : "unknown",
			       s->by_reason[r]);
	printf("\n");
	if (s->bad) {
		printf("loadgen: bad replies by check:");
		for (int i = 0; i < LG_ERR_SLOTS; i++)
			if (s->bad_by_err[i])
				printf(" %s=%" PRIu64, smile_errname(i), s->bad_by_err[i]);
		if (s->bad_contact)
			printf(" contact_not_json=%" PRIu64, s->bad_contact);
		printf("\n");
	}
	printf("loadgen: scans sent %llu, retransmitted %llu (%" PRIu64 " replies to them), "
	       "publish errors %llu, "
	       "build errors %llu, reconnects %u, own CPU %.2f s\n",
	       (unsigned long long)atomic_load(&run->sent),
	       (unsigned long long)atomic_load(&run->retransmits), s->retransmit_replies,
	       (unsigned long long)atomic_load(&run->publish_errors),
	       (unsigned long long)atomic_load(&run->build_errors), reconnects, cpu);
	/* One line for scripts: every figure as key=value. */
	printf("result devices=%zu connections=%zu target_rate=%ld late_slots=%llu"
	       " seconds=%.3f round_trips=%" PRIu64
	       " rate=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f answered=%" PRIu64
	       " accepted=%" PRIu64 " revealed=%" PRIu64 " recorded=%" PRIu64 " denied=%" PRIu64
	       " error=%" PRIu64 " bad=%" PRIu64 " lost=%zu duplicated=%" PRIu64
	       " stray=%" PRIu64 " retransmits=%llu retransmit_replies=%" PRIu64 " error_retried=%" PRIu64
	       " cpu_s=%.2f\n",
	       run->ndevs, run->nconns, o->rate,
	       (unsigned long long)atomic_load(&run->late_slots), secs, at_stop, rate,
	       (double)lg_stats_quantile(s, 0.50) / 1000.0,
	       (double)lg_stats_quantile(s, 0.90) / 1000.0,
	       (double)lg_stats_quantile(s, 0.99) / 1000.0, (double)s->lat_max_us / 1000.0,
	       s->completed, accepted, s->by_status[SMILE_STATUS_REVEALED],
	       s->by_status[SMILE_STATUS_RECORDED], s->by_status[SMILE_STATUS_DENIED],
	       s->by_status[SMILE_STATUS_ERROR], s->bad, lost, s->duplicated,
	       s->stray + s->misrouted, (unsigned long long)atomic_load(&run->retransmits),
	       s->retransmit_replies, s->error_retried, cpu);
	fflush(stdout);
}

static int lg_cmd_run(const struct lg_opts *o)
{
	struct lg_run run;
	struct lg_token *tokens = NULL;
	struct lg_stats *total = NULL;
	struct smile_error e = {0};
	char m[SMILE_ERROR_FIELD_MAX + SMILE_ERROR_MSG_MAX + 4];
	size_t ntokens = 0, ndevs_ok = 0, nconns_open = 0, lost = 0;
	uint64_t seq_start, t0, t_stop, deadline, next_progress, next_house, at_stop = 0;
	uint64_t prev_done = 0, slot = 0;
	int rc = 1, lib = 0;

	memset(&run, 0, sizeof(run));
	run.o = o;
	if (lg_load_tokens(o->tokens, &tokens, &ntokens, &e) != SMILE_OK) {
		fprintf(stderr, "smile-loadgen: %s\n", smile_error_format(&e, m, sizeof(m)));
		return 2;
	}
	run.tokens = tokens;
	run.ntokens = ntokens;
	run.ndevs = (size_t)o->devices;
	run.nconns = (size_t)o->connections;
	run.devs = calloc(run.ndevs, sizeof(*run.devs));
	run.conns = calloc(run.nconns, sizeof(*run.conns));
	total = calloc(1, sizeof(*total));
	if (run.devs == NULL || run.conns == NULL || total == NULL) {
		fprintf(stderr, "smile-loadgen: out of memory\n");
		goto out;
	}
	seq_start = o->seq_start > 0 ? (uint64_t)o->seq_start : lg_wall_us();
	for (size_t i = 0; i < run.nconns; i++) {
		run.conns[i].run = &run;
		run.conns[i].idx = i;
		run.conns[i].devs = calloc(run.ndevs / run.nconns + 1, sizeof(struct lg_dev *));
		if (run.conns[i].devs == NULL) {
			fprintf(stderr, "smile-loadgen: out of memory\n");
			goto out;
		}
	}
	for (size_t i = 0; i < run.ndevs; i++) {
		struct smile_device_keys k;
		struct lg_conn *c = &run.conns[i % run.nconns];
		enum smile_err err = lg_derive_keys(o->seed, o->prefix, i, &k, &e);

		if (err == SMILE_OK)
			err = lg_dev_init(&run.devs[i], &k, o->gw_sign_pk, o->gw_box_pk, seq_start, i,
					  &e);
		smile_device_keys_wipe(&k);
		run.devs[i].retry_errors = o->retry_ms > 0;
		if (err != SMILE_OK) {
			fprintf(stderr, "smile-loadgen: device %zu: %s\n", i,
				smile_error_format(&e, m, sizeof(m)));
			goto out;
		}
		ndevs_ok++;
		run.devs[i].conn = c;
		c->devs[c->ndevs++] = &run.devs[i];
	}

	mosquitto_lib_init();
	lib = 1;
	for (size_t i = 0; i < run.nconns; i++) {
		if (lg_conn_open(&run.conns[i], o) != 0) {
			if (run.conns[i].mosq) {
				mosquitto_destroy(run.conns[i].mosq);
				run.conns[i].mosq = NULL;
			}
			goto out;
		}
		nconns_open++;
	}
	for (uint64_t t = lg_now_ns() + (uint64_t)LG_READY_TIMEOUT_MS * 1000000u;;) {
		size_t ready = 0;
		for (size_t i = 0; i < run.nconns; i++) {
			if (atomic_load(&run.conns[i].failed))
				goto out;
			ready += atomic_load(&run.conns[i].ready) != 0;
		}
		if (ready == run.nconns)
			break;
		if (lg_now_ns() > t || lg_interrupted) {
			fprintf(stderr, "smile-loadgen: %zu of %zu connections subscribed in %d ms\n",
				ready, run.nconns, LG_READY_TIMEOUT_MS);
			goto out;
		}
		lg_sleep_ms(10);
	}

	/* Go. Unpaced: every device sends its first scan now and each reply
	 * sends the next. Paced: slot j (every 1/rate s) belongs to device
	 * j mod N, which sends then, or on its reply when still waiting. */
	t0 = lg_now_ns();
	deadline = t0 + (uint64_t)o->duration_s * 1000000000u;
	next_progress = t0 + (uint64_t)LG_PROGRESS_MS * 1000000u;
	next_house = t0 + LG_HOUSEKEEPING_NS;
	atomic_store(&run.running, 1);
	if (o->rate == 0)
		for (size_t i = 0; i < run.ndevs; i++)
			lg_send(&run, &run.devs[i]);
	for (;;) {
		uint64_t now = lg_now_ns(), wake;
		if (o->rate > 0)
			for (; lg_slot_ns(t0, slot, o->rate) <= now; slot++)
				lg_pace(&run, &run.devs[slot % run.ndevs]);
		if (now >= deadline || lg_interrupted)
			break;
		wake = o->rate > 0 ? lg_slot_ns(t0, slot, o->rate) : deadline;
		if (now < next_house) {
			lg_sleep_until(wake < next_house ? wake : next_house);
			continue;
		}
		next_house = now + LG_HOUSEKEEPING_NS;
		if (o->retry_ms > 0)
			for (size_t i = 0; i < run.ndevs; i++)
				lg_retry(&run, &run.devs[i], now);
		if (o->progress && now >= next_progress) {
			uint64_t done = atomic_load(&run.completed);
			fprintf(stderr, "smile-loadgen: %5.1f s  %" PRIu64 " round trips  %.0f/s\n",
				(double)(now - t0) / 1e9, done,
				(double)(done - prev_done) * 1000.0 / LG_PROGRESS_MS);
			prev_done = done;
			next_progress += (uint64_t)LG_PROGRESS_MS * 1000000u;
		}
	}
	atomic_store(&run.running, 0);
	t_stop = lg_now_ns();
	at_stop = atomic_load(&run.completed);

	/* Drain: the scans in flight get their replies; whatever has none by
	 * the end is lost. Then linger to catch late duplicates. */
	for (uint64_t t = t_stop + (uint64_t)o->drain_s * 1000000000u;;) {
		uint64_t now = lg_now_ns();
		if (lg_count_outstanding(&run) == 0 || now >= t)
			break;
		if (o->retry_ms > 0) /* a handheld keeps retrying its last scan */
			for (size_t i = 0; i < run.ndevs; i++)
				lg_retry(&run, &run.devs[i], now);
		lg_sleep_ms(20);
	}
	lg_sleep_ms(LG_LINGER_MS);
	rc = 0;
out:
	for (size_t i = 0; i < nconns_open; i++) {
		mosquitto_disconnect_v5(run.conns[i].mosq, 0, NULL);
		mosquitto_loop_stop(run.conns[i].mosq, false);
	}
	if (rc == 0) {
		/* The network threads are gone: their stats are ours now. */
		lost = lg_count_outstanding(&run);
		for (size_t i = 0; i < run.nconns; i++)
			lg_stats_merge(total, &run.conns[i].stats);
		lg_report(&run, total, (double)(t_stop - t0) / 1e9, at_stop, lost);
		if (lost || total->bad || total->duplicated || total->stray || total->misrouted ||
		    atomic_load(&run.publish_errors) || atomic_load(&run.build_errors)) {
			fprintf(stderr, "smile-loadgen: FAILED: %zu lost, %" PRIu64 " bad, %" PRIu64
					" duplicated, %" PRIu64 " stray replies\n",
				lost, total->bad, total->duplicated, total->stray + total->misrouted);
			rc = 1;
		}
	}
	for (size_t i = 0; i < nconns_open; i++)
		mosquitto_destroy(run.conns[i].mosq);
	if (lib)
		mosquitto_lib_cleanup();
	for (size_t i = 0; i < ndevs_ok; i++)
		lg_dev_release(&run.devs[i]);
	if (run.conns)
		for (size_t i = 0; i < run.nconns; i++)
			free(run.conns[i].devs);
	free(run.conns);
	free(run.devs);
	free(total);
	free(tokens);
	return rc;
}

/* ------------------------------------------------------------ enrol */

static int lg_cmd_enrol(const struct lg_opts *o)
{
	char line[SMILE_DEVICE_ENROLMENT_MAX + 64];
	struct smile_error e = {0};
	char m[SMILE_ERROR_FIELD_MAX + SMILE_ERROR_MSG_MAX + 4];
	FILE *f = stdout;
	int rc = 0;

	if (o->out && (f = fopen(o->out, "w")) == NULL) {
		fprintf(stderr, "smile-loadgen: --out: cannot open: %s\n", strerror(errno));
		return 1;
	}
	for (long i = 0; i < o->devices && rc == 0; i++) {
		struct smile_device_keys k;
		if (lg_derive_keys(o->seed, o->prefix, (size_t)i, &k, &e) != SMILE_OK) {
			fprintf(stderr, "smile-loadgen: device %ld: %s\n", i,
				smile_error_format(&e, m, sizeof(m)));
			rc = 1;
		} else if (lg_enrol_line(&k, o->role, line, sizeof(line)) != SMILE_OK) {
			fprintf(stderr, "smile-loadgen: device %ld: enrolment line too long\n", i);
			rc = 1;
		} else if (fprintf(f, "%s\n", line) < 0) {
			rc = 1;
		}
		smile_device_keys_wipe(&k);
	}
	if (f != stdout) {
		if (fclose(f) != 0)
			rc = 1;
	} else if (fflush(f) != 0) {
		rc = 1;
	}
	return rc;
}

/* ------------------------------------------------------------ selftest */

static int st_n, st_failed;

static void st_ok(int cond, const char *fmt, ...) SMILE_PRINTF(2, 3);
static void st_ok(int cond, const char *fmt, ...)
{
	va_list ap;
	st_n++;
	printf("%sok %d - ", cond ? "" : "not ", st_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond)
		st_failed++;
}

/* lg_parse_args on a NULL-terminated list of words after the program name. */
static enum smile_err st_parse(struct lg_opts *o, struct smile_error *e, ...)
{
	char *argv[48];
	int argc = 0;
	va_list ap;

	argv[argc++] = (char *)"smile-loadgen";
	va_start(ap, e);
	for (char *a; argc < 47 && (a = va_arg(ap, char *)) != NULL;)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	memset(e, 0, sizeof(*e));
	return lg_parse_args(argc, argv, o, e);
}

/* The vector keys of docs/protocol.md 13.1. */
static void st_vector_keys(struct smile_device_keys *dev, uint8_t gw_sign_pk[32],
			   uint8_t gw_box_pk[32])
{
	uint8_t seed[32], sk[64], box_sk[32];

	v_seq_bytes(seed, 32, V_DEVICE_SIGN_SEED_FIRST);
	v_seq_bytes(box_sk, 32, V_DEVICE_BOX_SK_FIRST);
	if (smile_device_keys_from_seeds(V_DEVICE_ID, seed, box_sk, dev, NULL) != SMILE_OK)
		memset(dev, 0, sizeof(*dev));
	v_seq_bytes(seed, 32, V_GATEWAY_SIGN_SEED_FIRST);
	crypto_sign_seed_keypair(gw_sign_pk, sk, seed);
	v_seq_bytes(box_sk, 32, V_GATEWAY_BOX_SK_FIRST);
	crypto_scalarmult_base(gw_box_pk, box_sk);
	sodium_memzero(sk, sizeof(sk));
}

static void st_keys_and_enrolment(void)
{
	struct smile_device_keys a, b, c, x;
	char line[SMILE_DEVICE_ENROLMENT_MAX + 64], b64[SMILE_PROTO_KEY_B64_BYTES];
	json_t *j;
	/* Pinned: changing lg_derive_keys would silently re-key every bench set-up. */
	static const char golden[] =
		"{\"id\":\"lg-00000\",\"sign_pk\":\"oDLTIiZaTKRBk989YxymdSTTPwAtljMjyqB+1krKCO8=\","
		"\"box_pk\":\"Fu3SQYx63jm4YDorwpmBM2eRYnbdTO+FedfAKJBYqSo=\","
		"\"role\":\"courier\"}";

	st_ok(lg_derive_keys("selftest", "lg", 0, &a, NULL) == SMILE_OK &&
		      lg_derive_keys("selftest", "lg", 0, &b, NULL) == SMILE_OK &&
		      memcmp(&a, &b, sizeof(a)) == 0,
	      "keys: the same seed and index give the same keys");
	st_ok(lg_derive_keys("selftest", "lg", 1, &c, NULL) == SMILE_OK &&
		      memcmp(a.sign_pk, c.sign_pk, 32) != 0 && memcmp(a.box_pk, c.box_pk, 32) != 0 &&
		      strcmp(c.id, "lg-00001") == 0,
	      "keys: another index gives another id and other keys");
	st_ok(lg_derive_keys("selftest2", "lg", 0, &x, NULL) == SMILE_OK &&
		      memcmp(a.sign_pk, x.sign_pk, 32) != 0 && memcmp(a.box_sk, x.box_sk, 32) != 0,
	      "keys: another seed gives other keys");
	st_ok(lg_derive_keys("selftest", "a-prefix-over-twenty-chars", 0, &x, NULL) ==
			      SMILE_ERR_INVALID &&
		      lg_derive_keys("selftest", "lg", LG_DEVICES_MAX, &x, NULL) == SMILE_ERR_INVALID,
	      "keys: an over-long prefix or index is refused");
	st_ok(lg_enrol_line(&a, "courier", line, sizeof(line)) == SMILE_OK &&
		      strcmp(line, golden) == 0,
	      "enrol: device 0 of seed 'selftest' is pinned: %s", line);
	j = json_loads(line, 0, NULL);
	smile_proto_key_to_base64(a.sign_pk, b64);
	st_ok(j != NULL && strcmp(json_string_value(json_object_get(j, "id")), "lg-00000") == 0 &&
		      strcmp(json_string_value(json_object_get(j, "sign_pk")), b64) == 0 &&
		      strcmp(json_string_value(json_object_get(j, "role")), "courier") == 0 &&
		      json_object_size(j) == 4,
	      "enrol: the line is JSON with id, sign_pk, box_pk and role");
	json_decref(j);
	st_ok(lg_enrol_line(&a, "hub", line, 40) == SMILE_ERR_BUFFER_SMALL,
	      "enrol: a short buffer is refused");
	smile_device_keys_wipe(&a);
	smile_device_keys_wipe(&b);
	smile_device_keys_wipe(&c);
	smile_device_keys_wipe(&x);
}

static void st_args(void)
{
	struct lg_opts o;
	struct smile_error e;
	static char pk[] = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";

	st_ok(st_parse(&o, &e, "run", "--gateway-sign-pk", pk, "--gateway-box-pk", pk, "--tokens",
		       "t.txt", NULL) == SMILE_OK &&
		      o.mode == LG_MODE_RUN && o.devices == 200 && o.connections == 4 &&
		      o.event == SMILE_EVENT_OUT_FOR_DELIVERY && o.duration_s == 30 &&
		      o.port == 1883 && strcmp(o.host, "127.0.0.1") == 0 && o.retry_ms == 0 &&
		      o.gw_sign_pk[0] == 0x03 && o.gw_sign_pk[31] == 0xb8,
	      "args: run defaults, keys decoded");
	st_ok(st_parse(&o, &e, "run", "--gateway-sign-pk", pk, "--gateway-box-pk", pk, "--tokens",
		       "t.txt", "--host", "::1", "--port", "1884", "--devices", "50",
		       "--connections", "5", "--event", "hub_in", "--duration", "7", "--drain", "0",
		       "--retry-ms", "250", "--seq-start", "99", "--seed", "s", "--prefix", "x_y",
		       "--rate", "3000", "--progress", NULL) == SMILE_OK && o.rate == 3000 &&
		      o.port == 1884 && o.devices == 50 && o.connections == 5 &&
		      o.event == SMILE_EVENT_HUB_IN && o.duration_s == 7 && o.drain_s == 0 &&
		      o.retry_ms == 250 && o.seq_start == 99 && o.progress == 1 &&
		      strcmp(o.prefix, "x_y") == 0 && strcmp(o.host, "::1") == 0,
	      "args: every run flag is read");
	st_ok(st_parse(&o, &e, "run", "--gateway-sign-pk", pk, "--gateway-box-pk", pk, "--tokens",
		       "t", "--devices", "12x", NULL) == SMILE_ERR_INVALID &&
		      strcmp(e.field, "--devices") == 0,
	      "args: a bad number names its flag");
	st_ok(st_parse(&o, &e, "run", "--gateway-sign-pk", pk, "--gateway-box-pk", pk, "--tokens",
		       "t", "--devices", "0", NULL) == SMILE_ERR_INVALID &&
		      strcmp(e.field, "--devices") == 0 && strstr(e.message, "1-100000") != NULL,
	      "args: zero devices is out of range");
	st_ok(st_parse(&o, &e, "run", "--gateway-sign-pk", pk, "--gateway-box-pk", pk, "--tokens",
		       "t", "--devices", "3", "--connections", "4", NULL) == SMILE_ERR_INVALID &&
		      strcmp(e.field, "--connections") == 0,
	      "args: more connections than devices is refused");
	st_ok(st_parse(&o, &e, "run", "--gateway-sign-pk", pk, "--tokens", "t", NULL) ==
			      SMILE_ERR_INVALID &&
		      strcmp(e.field, "--gateway-box-pk") == 0,
	      "args: run needs the gateway's box key");
	st_ok(st_parse(&o, &e, "run", "--gateway-sign-pk", pk, "--gateway-box-pk", pk, NULL) ==
			      SMILE_ERR_INVALID &&
		      strcmp(e.field, "--tokens") == 0,
	      "args: run needs --tokens");
	st_ok(st_parse(&o, &e, "run", "--gateway-sign-pk", "AAAA", NULL) == SMILE_ERR_INVALID &&
		      strcmp(e.field, "--gateway-sign-pk") == 0,
	      "args: a short key is refused");
	st_ok(st_parse(&o, &e, "run", "--event", "teleported", NULL) == SMILE_ERR_INVALID &&
		      strcmp(e.field, "--event") == 0,
	      "args: an unknown event is refused");
	st_ok(st_parse(&o, &e, "run", "--frobnicate", "1", NULL) == SMILE_ERR_INVALID &&
		      strcmp(e.field, "--frobnicate") == 0,
	      "args: an unknown flag is refused");
	st_ok(st_parse(&o, &e, "run", "--devices", NULL) == SMILE_ERR_INVALID &&
		      strcmp(e.field, "--devices") == 0,
	      "args: a flag without its value is refused");
	st_ok(st_parse(&o, &e, "enrol", "--devices", "3", "--role", "hub", "--seed", "q", NULL) ==
			      SMILE_OK &&
		      o.mode == LG_MODE_ENROL && o.devices == 3 && strcmp(o.role, "hub") == 0,
	      "args: enrol reads its flags and needs no gateway keys");
	st_ok(st_parse(&o, &e, "enrol", "--tokens", "t", NULL) == SMILE_ERR_INVALID &&
		      strcmp(e.field, "--tokens") == 0 &&
		      st_parse(&o, &e, "run", "--role", "hub", NULL) == SMILE_ERR_INVALID,
	      "args: a flag of the other mode is refused");
	st_ok(st_parse(&o, &e, "enrol", "--role", "driver", NULL) == SMILE_ERR_INVALID &&
		      st_parse(&o, &e, "enrol", "--prefix", "a b", NULL) == SMILE_ERR_INVALID &&
		      st_parse(&o, &e, "fly", NULL) == SMILE_ERR_INVALID,
	      "args: bad role, bad prefix and unknown mode are refused");
}

static void st_tokens(void)
{
	char path[] = "/tmp/smile-loadgen-st.XXXXXX";
	struct lg_token *t = NULL;
	struct smile_error e = {0};
	size_t n = 0;
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	if (f == NULL) {
		st_ok(0, "tokens: temp file");
		return;
	}
	fprintf(f, "# tokens\nSW1:AAA\r\n\nSW1:B C\n");
	fclose(f);
	st_ok(lg_load_tokens(path, &t, &n, &e) == SMILE_OK && n == 2 && t[0].len == 7 &&
		      memcmp(t[0].s, "SW1:AAA", 7) == 0 && t[1].len == 7,
	      "tokens: one per line, comments, blank lines and CR skipped");
	free(t);
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "SW1:AAA\nSW1:\x01X\n");
		fclose(f);
	}
	st_ok(lg_load_tokens(path, &t, &n, &e) == SMILE_ERR_INVALID &&
		      strcmp(e.field, "--tokens line 2") == 0 && t == NULL,
	      "tokens: a control character is refused naming the line");
	f = fopen(path, "w");
	if (f)
		fclose(f);
	st_ok(lg_load_tokens(path, &t, &n, &e) == SMILE_ERR_INVALID, "tokens: an empty file is refused");
	unlink(path);
	st_ok(lg_load_tokens(path, &t, &n, &e) == SMILE_ERR_IO, "tokens: a missing file is an I/O error");
}

static void st_scans_and_replies(void)
{
	struct smile_device_keys k;
	uint8_t gsp[32], gbp[32], want[SMILE_REPLY_MAX_BYTES], rep[SMILE_REPLY_MAX_BYTES];
	struct lg_dev *d = calloc(1, sizeof(*d));
	struct lg_stats *s = calloc(1, sizeof(*s));
	struct lg_token tok;
	struct smile_scan sc;
	size_t wn, rn;
	uint64_t seq1;

	if (d == NULL || s == NULL) {
		st_ok(0, "scan: memory");
		free(d);
		free(s);
		return;
	}
	st_vector_keys(&k, gsp, gbp);
	tok.len = (uint8_t)strlen(V_TOKEN);
	memcpy(tok.s, V_TOKEN, tok.len);

	/* Scan C of docs/protocol.md 13.4 through the loadgen's own path. */
	st_ok(lg_dev_init(d, &k, gsp, gbp, 44, 0, NULL) == SMILE_OK &&
		      strcmp(d->scan_topic, "smile/v1/dev/courier-01/scan") == 0 &&
		      strcmp(d->reply_topic, "smile/v1/dev/courier-01/reply") == 0,
	      "scan: device set up from the vector keys, topics per docs/protocol.md");
	wn = v_hex(V_SCAN_C, want, sizeof(want));
	st_ok(lg_dev_build(d, &tok, SMILE_EVENT_PICKUP, 1767226000000ULL, 1767225900000ULL, NULL) ==
			      SMILE_OK &&
		      d->scan_len == wn && memcmp(d->scan, want, wn) == 0 && d->outstanding,
	      "scan: the loadgen builds vector scan C byte for byte (seq 44)");
	st_ok(smile_scan_verify(d->scan, d->scan_len, k.sign_pk, NULL) == SMILE_OK,
	      "scan: it verifies with the device's public key");
	d->outstanding = 0;
	st_ok(lg_dev_build(d, &tok, SMILE_EVENT_OUT_FOR_DELIVERY, 1767226000001ULL,
			   1767226000001ULL, NULL) == SMILE_OK &&
		      smile_scan_decode(d->scan, d->scan_len, &sc, NULL) == SMILE_OK &&
		      (seq1 = sc.seq) == 45 &&
		      lg_dev_build(d, &tok, SMILE_EVENT_OUT_FOR_DELIVERY, 1767226000002ULL,
				   1767226000002ULL, NULL) == SMILE_OK &&
		      smile_scan_decode(d->scan, d->scan_len, &sc, NULL) == SMILE_OK &&
		      sc.seq == seq1 + 1,
	      "scan: sequence numbers grow by one per scan");
	lg_dev_release(d);

	/* Replies: vector reply 1 answers scan A (revealed), reply 2 answers scan B. */
	if (lg_dev_init(d, &k, gsp, gbp, 42, 0, NULL) != SMILE_OK) {
		st_ok(0, "reply: device set-up");
		goto out;
	}
	d->scan_len = v_hex(V_SCAN_A, d->scan, sizeof(d->scan));
	d->outstanding = 1;
	d->sends = 1;
	d->sent_ns = 1000000;
	rn = v_hex(V_REPLY_1, rep, sizeof(rep));
	st_ok(lg_dev_reply(d, rep, rn, 3500000, s) == LG_DONE && !d->outstanding &&
		      s->completed == 1 && s->by_status[SMILE_STATUS_REVEALED] == 1 &&
		      s->by_reason[SMILE_REASON_OK] == 1 && s->bad == 0 && s->lat_max_us == 2500,
	      "reply: vector reply 1 answers scan A: revealed, contact opened, 2.5 ms");
	st_ok(lg_dev_reply(d, rep, rn, 4000000, s) == LG_DUPLICATE && s->duplicated == 1 &&
		      s->completed == 1,
	      "reply: the same reply again is a duplicate");
	d->prev_n = 0;
	d->scan_len = v_hex(V_SCAN_B, d->scan, sizeof(d->scan));
	d->outstanding = 1;
	d->sends = 1;
	d->replies = 0;
	rep[rn - 1] ^= 1;
	st_ok(lg_dev_reply(d, rep, rn, 5000000, s) == LG_BAD && s->bad == 1 &&
		      s->bad_by_err[SMILE_ERR_BAD_SIGNATURE] == 1 && d->outstanding,
	      "reply: an altered reply is bad and the scan stays outstanding");
	rep[rn - 1] ^= 1;
	st_ok(lg_dev_reply(d, rep, rn, 5000000, s) == LG_DUPLICATE && s->duplicated == 2 &&
		      d->outstanding,
	      "reply: a genuine reply to another, answered scan is a duplicate");
	rn = v_hex(V_REPLY_2, rep, sizeof(rep));
	st_ok(lg_dev_reply(d, rep, rn, 6000000, s) == LG_DONE && !d->outstanding &&
		      s->by_status[SMILE_STATUS_DENIED] == 1 &&
		      s->by_reason[SMILE_REASON_STALE] == 1 && s->completed == 2,
	      "reply: vector reply 2 answers scan B: denied, reason stale");
	/* Retransmission: scan sent twice, two replies expected, a third is a duplicate. */
	d->outstanding = 1;
	d->sends = 2;
	d->replies = 0;
	st_ok(lg_dev_reply(d, rep, rn, 7000000, s) == LG_DONE &&
		      lg_dev_reply(d, rep, rn, 7000000, s) == LG_RETRANSMIT_REPLY &&
		      lg_dev_reply(d, rep, rn, 7000000, s) == LG_DUPLICATE &&
		      s->retransmit_replies == 1 && s->duplicated == 3,
	      "reply: a retransmitted scan may get one reply per send, no more");
	/* A reply under a key that is not the gateway's. */
	gsp[0] ^= 0x40;
	lg_dev_release(d);
	if (lg_dev_init(d, &k, gsp, gbp, 42, 0, NULL) == SMILE_OK) {
		d->scan_len = v_hex(V_SCAN_B, d->scan, sizeof(d->scan));
		d->outstanding = 1;
		st_ok(lg_dev_reply(d, rep, rn, 8000000, s) == LG_BAD && d->outstanding,
		      "reply: a reply not signed by this gateway is bad");
		lg_dev_release(d);
	} else {
		st_ok(0, "reply: device set-up with another gateway key");
	}
	memset(d, 0, sizeof(*d));
	st_ok(lg_dev_reply(d, rep, rn, 8000000, s) == LG_STRAY && s->stray == 1,
	      "reply: a reply before any scan is stray");
out:
	smile_device_keys_wipe(&k);
	free(d);
	free(s);
}

static void st_histogram(void)
{
	struct lg_stats *s = calloc(1, sizeof(*s));
	int ok = 1;

	if (s == NULL) {
		st_ok(0, "histogram: memory");
		return;
	}
	for (uint64_t us = 1; us <= 100000; us++)
		lg_stats_latency(s, us);
	for (int i = 1; i <= 99; i++) {
		double want = (double)i * 1000.0, got = (double)lg_stats_quantile(s, i / 100.0);
		if (got < want || got > want * 1.016)
			ok = 0;
	}
	st_ok(ok, "histogram: every percentile of 1..100000 us within 1.6 %%");
	st_ok(lg_stats_quantile(s, 1.0) == 100000 && s->lat_max_us == 100000,
	      "histogram: p100 is the exact maximum");
	for (uint64_t us = 1; us < (1ULL << 42); us = us * 3 + 1) {
		size_t i = lg_hist_index(us);
		/* the last bucket also takes everything beyond the range */
		if (i >= LG_HIST_N || (lg_hist_upper(i) < us && i != LG_HIST_N - 1))
			ok = 0;
	}
	st_ok(ok, "histogram: every value lands in a bucket whose upper edge covers it");
	free(s);
}

static int lg_cmd_selftest(void)
{
	st_keys_and_enrolment();
	st_args();
	st_tokens();
	st_scans_and_replies();
	st_histogram();
	printf("1..%d\n", st_n);
	return st_failed ? 1 : 0;
}

/* ------------------------------------------------------------ main */

int main(int argc, char **argv)
{
	struct lg_opts o;
	struct smile_error e = {0};
	char m[SMILE_ERROR_FIELD_MAX + SMILE_ERROR_MSG_MAX + 4];
	struct sigaction sa;

	if (smile_proto_init() != SMILE_OK) {
		fprintf(stderr, "smile-loadgen: libsodium failed to initialise\n");
		return 1;
	}
	if (argc >= 2 && strcmp(argv[1], "selftest") == 0)
		return lg_cmd_selftest();
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (lg_parse_args(argc, argv, &o, &e) != SMILE_OK) {
		fprintf(stderr, "smile-loadgen: %s\n%s", smile_error_format(&e, m, sizeof(m)), usage);
		return 2;
	}
	if (o.help) {
		fputs(usage, stdout);
		return 0;
	}
	if (o.mode == LG_MODE_ENROL)
		return lg_cmd_enrol(&o);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = lg_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return lg_cmd_run(&o);
}
