/* SPDX-License-Identifier: Apache-2.0 */
/*
 * devtool.c - smile-devtool: a handheld's protocol steps one at a time, for
 * tests and for vendors checking their own implementation against ours.
 *
 * Every step uses the real device core (libsmile-device): key files, signed
 * scans with a chosen sequence number and clock, and opening replies. Pair it
 * with mosquitto_pub -f / mosquitto_sub -N to talk to a real broker.
 */
#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "smile/clock.h"
#include "smile/credentials.h"
#include "smile/device.h"
#include "smile/proto.h"

static const char usage[] =
	"usage: smile-devtool keygen --id ID --out KEYFILE     (prints enrolment JSON)\n"
	"       smile-devtool password --key KEYFILE --gw-box-pk B64   (MQTT password)\n"
	"       smile-devtool scan --key KEYFILE --seq N --event EVENT --token TOKEN\n"
	"                          [--time-ms T] [--scanned-ms T] --out SCANFILE\n"
	"       smile-devtool open --key KEYFILE --gw-sign-pk B64 --gw-box-pk B64\n"
	"                          --scan SCANFILE --reply REPLYFILE\n"
	"\n"
	"open prints the reply as one JSON line (status, reason, waybill, masked,\n"
	"contact when revealed) and exits 0, or names why the reply was rejected\n"
	"and exits 1. Times default to now.\n";

static int die(const char *what)
{
	fprintf(stderr, "smile-devtool: %s\n", what);
	return 1;
}

static long read_file(const char *path, uint8_t *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;
	if (f == NULL)
		return -1;
	n = fread(buf, 1, cap, f);
	if (!feof(f) && n == cap) {
		fclose(f);
		return -1;
	}
	fclose(f);
	return (long)n;
}

static int write_file(const char *path, const uint8_t *buf, size_t n, mode_t mode)
{
	FILE *f = fopen(path, "wb");
	int ok;
	if (f == NULL)
		return -1;
	ok = fwrite(buf, 1, n, f) == n;
	ok &= fclose(f) == 0;
	return ok && chmod(path, mode) == 0 ? 0 : -1;
}

static int load_keys(const char *path, struct smile_device_keys *k)
{
	uint8_t img[SMILE_DEVICE_KEYFILE_BYTES + 1];
	long n = read_file(path, img, sizeof(img));
	int rc = n < 0 || smile_device_keys_load(img, (size_t)n, k, NULL) != SMILE_OK ? -1 : 0;
	sodium_memzero(img, sizeof(img));
	return rc;
}

static uint64_t now_ms(void)
{
	return (uint64_t)smile_clock_ms();
}

static void json_str(const char *key, const uint8_t *p, size_t n, int comma)
{
	printf("%s\"%s\":\"", comma ? "," : "", key);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"id", required_argument, NULL, 'i'},     {"out", required_argument, NULL, 'o'},
		{"key", required_argument, NULL, 'k'},    {"seq", required_argument, NULL, 'n'},
		{"event", required_argument, NULL, 'e'},  {"token", required_argument, NULL, 't'},
		{"time-ms", required_argument, NULL, 'T'}, {"scanned-ms", required_argument, NULL, 'S'},
		{"gw-sign-pk", required_argument, NULL, 'g'}, {"gw-box-pk", required_argument, NULL, 'b'},
		{"scan", required_argument, NULL, 's'},   {"reply", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
	const char *id = NULL, *out = NULL, *key = NULL, *event = NULL, *token = NULL;
	const char *gws = NULL, *gwb = NULL, *scanf_ = NULL, *replyf = NULL;
	unsigned long long seq = 0, t = 0, scanned = 0;
	struct smile_device_keys k;
	int c, rc = 1;

	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (sodium_init() < 0)
		return die("libsodium failed");
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		char *end = NULL;
		switch (c) {
		case 'i': id = optarg; break;
		case 'o': out = optarg; break;
		case 'k': key = optarg; break;
		case 'e': event = optarg; break;
		case 't': token = optarg; break;
		case 'g': gws = optarg; break;
		case 'b': gwb = optarg; break;
		case 's': scanf_ = optarg; break;
		case 'r': replyf = optarg; break;
		case 'n': seq = strtoull(optarg, &end, 10); break;
		case 'T': t = strtoull(optarg, &end, 10); break;
		case 'S': scanned = strtoull(optarg, &end, 10); break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
		if (end && *end)
			return die("numbers must be decimal");
	}
	memset(&k, 0, sizeof(k));

	if (strcmp(argv[1], "keygen") == 0) {
		uint8_t img[SMILE_DEVICE_KEYFILE_BYTES];
		char json[SMILE_DEVICE_ENROLMENT_MAX];
		if (!id || !out)
			return die("keygen needs --id and --out");
		if (smile_device_keygen(id, &k, NULL) != SMILE_OK)
			return die("bad device id (1-32 of A-Z a-z 0-9 _ -)");
		smile_device_keys_save(&k, img);
		if (write_file(out, img, sizeof(img), 0600) != 0)
			return die("cannot write the key file");
		if (smile_device_enrolment_json(&k, json, sizeof(json), NULL) == SMILE_OK) {
			puts(json);
			rc = 0;
		}
		sodium_memzero(img, sizeof(img));
	} else if (strcmp(argv[1], "password") == 0) {
		uint8_t pk[32], shared[32];
		char pw[SMILE_MQTT_PASSWORD_MAX];
		if (!key || !gwb || load_keys(key, &k) != 0 ||
		    smile_proto_key_from_base64(gwb, strlen(gwb), pk) != SMILE_OK)
			return die("password needs --key KEYFILE and --gw-box-pk B64");
		if (smile_proto_shared_key(k.box_sk, pk, shared) == SMILE_OK &&
		    smile_mqtt_password(shared, k.id, pw) == SMILE_OK) {
			puts(pw);
			rc = 0;
		}
		sodium_memzero(shared, sizeof(shared));
	} else if (strcmp(argv[1], "scan") == 0) {
		struct smile_scan s;
		enum smile_event ev;
		uint8_t msg[SMILE_SCAN_MAX_BYTES];
		size_t n;
		struct smile_error e = {0};
		if (!key || !out || !event || !token || seq == 0)
			return die("scan needs --key --seq --event --token --out");
		if (load_keys(key, &k) != 0)
			return die("cannot load the key file");
		if (smile_proto_event_from_name(event, &ev) != SMILE_OK)
			return die("unknown event");
		memset(&s, 0, sizeof(s));
		s.device_id = k.id;
		s.device_id_len = strlen(k.id);
		s.seq = seq;
		s.time_ms = t ? t : now_ms();
		s.scanned_ms = scanned ? scanned : s.time_ms;
		s.event = ev;
		s.token = (const uint8_t *)token;
		s.token_len = strlen(token);
		if (smile_scan_encode(&s, k.sign_sk, msg, sizeof(msg), &n, &e) != SMILE_OK) {
			fprintf(stderr, "smile-devtool: scan: %s: %s\n", e.field, e.message);
			rc = 1;
		} else {
			rc = write_file(out, msg, n, 0644) ? die("cannot write the scan") : 0;
		}
	} else if (strcmp(argv[1], "open") == 0) {
		struct smile_device d;
		struct smile_reply r;
		uint8_t sp[32], bp[32], scan[SMILE_SCAN_MAX_BYTES + 1], rep[SMILE_REPLY_MAX_BYTES + 1];
		uint8_t contact[SMILE_PROTO_CONTACT_MAX];
		size_t clen = 0;
		long sn, rn;
		struct smile_error e = {0};
		if (!key || !gws || !gwb || !scanf_ || !replyf)
			return die("open needs --key --gw-sign-pk --gw-box-pk --scan --reply");
		if (load_keys(key, &k) != 0 ||
		    smile_proto_key_from_base64(gws, strlen(gws), sp) != SMILE_OK ||
		    smile_proto_key_from_base64(gwb, strlen(gwb), bp) != SMILE_OK ||
		    smile_device_init(&d, &k, sp, bp, NULL) != SMILE_OK)
			return die("cannot set up the device");
		sn = read_file(scanf_, scan, sizeof(scan));
		rn = read_file(replyf, rep, sizeof(rep));
		if (sn <= 0 || rn <= 0)
			return die("cannot read the scan or reply file");
		if (smile_device_open_reply(&d, scan, (size_t)sn, rep, (size_t)rn, &r, contact,
					    sizeof(contact), &clen, &e) != SMILE_OK) {
			fprintf(stderr, "smile-devtool: reply rejected: %s (%s%s%s)\n",
				smile_errname(e.code), e.field, e.field[0] ? ": " : "", e.message);
			smile_device_wipe(&d);
			return 1;
		}
		printf("{\"seq\":%llu,\"status\":\"%s\",\"reason\":\"%s\"",
		       (unsigned long long)r.seq, smile_proto_status_name(r.status),
		       smile_proto_reason_name(r.reason));
		json_str("waybill", (const uint8_t *)r.waybill, r.waybill_len, 1);
		printf(",\"masked\":%.*s", r.masked_len ? (int)r.masked_len : 4,
		       r.masked_len ? (const char *)r.masked : "null");
		if (clen)
			printf(",\"contact\":%.*s", (int)clen, (const char *)contact);
		puts("}");
		sodium_memzero(contact, sizeof(contact));
		smile_device_wipe(&d);
		rc = 0;
	} else {
		fprintf(stderr, "smile-devtool: unknown command '%s'\n%s", argv[1], usage);
		rc = 2;
	}
	smile_device_keys_wipe(&k);
	return rc;
}
