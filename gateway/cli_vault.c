/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_vault.c - the command-line doors of vault key rotation:
 * `smile-gateway keys rotate-vault` and `smile-gateway vault check`. They
 * parse options, call vault_rotate.c, and print what happened (key ids and
 * counts only; never key bytes or personal data). Kept out of main.c so the
 * other commands there change without touching these.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault_rotate.h"

struct cli_opts {
	const char *data;
	const char *store;
	double timeout_s;
	long batch;
};

static int cli_fail(const char *what, const struct smile_error *e)
{
	char msg[SMILE_ERROR_FIELD_MAX + SMILE_ERROR_MSG_MAX + 4];
	fprintf(stderr, "smile-gateway: %s: %s (%s)\n", what, smile_error_format(e, msg, sizeof(msg)),
		smile_errname(e->code));
	return 1;
}

/* 0: go on; 1: --help printed (exit 0); 2: usage error (printed). */
static int cli_parse(int argc, char **argv, struct cli_opts *o, const char *usage, int with_store,
		     int with_rotate)
{
	static const struct option longopts[] = {
		{"data", required_argument, NULL, 'd'},
		{"store", required_argument, NULL, 's'},
		{"timeout", required_argument, NULL, 't'},
		{"batch", required_argument, NULL, 'b'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	o->timeout_s = 60;
	o->batch = 1000;
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:s:t:b:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o->data = optarg;
			break;
		case 's':
			if (!with_store)
				goto bad;
			o->store = optarg;
			break;
		case 't':
			if (!with_rotate)
				goto bad;
			errno = 0;
			o->timeout_s = strtod(optarg, &end);
			if (errno || *end || end == optarg || !(o->timeout_s > 0) ||
			    o->timeout_s > 86400) {
				fprintf(stderr, "smile-gateway: --timeout: seconds, 0 < t <= 86400\n");
				return 2;
			}
			break;
		case 'b':
			if (!with_rotate)
				goto bad;
			errno = 0;
			o->batch = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || o->batch < 1 ||
			    o->batch > VAULT_ROTATE_BATCH_MAX) {
				fprintf(stderr, "smile-gateway: --batch: rows per transaction, 1-%d\n",
					VAULT_ROTATE_BATCH_MAX);
				return 2;
			}
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		default:
			goto bad;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "smile-gateway: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (o->data == NULL) {
		fprintf(stderr, "smile-gateway: --data DIR is required\n%s", usage);
		return 2;
	}
	return 0;
bad:
	fputs(usage, stderr);
	return 2;
}

int cli_keys_rotate_vault(int argc, char **argv)
{
	static const char usage[] =
		"usage: smile-gateway keys rotate-vault --data DIR [--timeout SECONDS] [--batch ROWS]\n"
		"\n"
		"Replace the vault key, online: write keys/vault.next.key, wait until a\n"
		"gateway serving DIR seals with it (it looks once a second), rewrap every\n"
		"row's data key under it (ROWS per transaction, default 1000; erased rows are\n"
		"skipped and never brought back), then destroy the old key and rename the new\n"
		"one over keys/vault.key. Backups of store.db taken before the rotation no\n"
		"longer open with DIR's keys ('vault check --store COPY' shows it). The\n"
		"rotation is recorded in the audit log as vault.rotate.\n"
		"\n"
		"Works with or without a running 'serve'; while it runs without one, 'serve'\n"
		"cannot start. Each wait for the gateway gives up after --timeout (default\n"
		"60 s). Interrupted or timed out, it keeps everything done so far: run it\n"
		"again to resume.\n";
	struct cli_opts o;
	struct vault_rotate_opts ro;
	struct vault_rotate_report r;
	struct smile_error e = {0};
	int rc = cli_parse(argc, argv, &o, usage, 0, 1);

	if (rc)
		return rc == 1 ? 0 : rc;
	ro.timeout_s = o.timeout_s;
	ro.batch = (size_t)o.batch;
	if (vault_rotate_run(o.data, &ro, &r, &e) != SMILE_OK)
		return cli_fail("keys rotate-vault", &e);
	if (r.finished_earlier) {
		printf("vault key %08x -> %08x: the rotation had already rewrapped every row and "
		       "destroyed the old key\n",
		       (unsigned)r.old_kid, (unsigned)r.new_kid);
	} else {
		printf("vault key %08x -> %08x: %llu row(s) rewrapped in %.2f s (%.0f rows/s), %llu "
		       "erased meanwhile, %u pass(es)%s\n",
		       (unsigned)r.old_kid, (unsigned)r.new_kid, (unsigned long long)r.rewrapped,
		       r.seconds, r.seconds > 0 ? (double)r.rewrapped / r.seconds : 0.0,
		       (unsigned long long)r.skipped, r.passes, r.resumed ? " (resumed)" : "");
	}
	printf("the old vault key is destroyed%s; the rotation is in the audit log (vault.rotate)\n",
	       r.serving ? " and the serving gateway has dropped it" : "");
	if (r.foreign)
		printf("note: %llu row(s) are wrapped by vault keys DIR does not hold; no key here "
		       "opens them ('vault check' lists them)\n",
		       (unsigned long long)r.foreign);
	printf("Destroy every copy of the old keys/vault.key (key backups included).\n");
	return 0;
}

int cli_vault(int argc, char **argv)
{
	static const char usage[] =
		"usage: smile-gateway vault check --data DIR [--store FILE]\n"
		"\n"
		"Try to open every personal row of FILE (default: DIR's own store) with\n"
		"the vault keys in DIR/keys, and count what opens. FILE is opened read-only\n"
		"and never changed, so it may be a backup copy: after 'keys rotate-vault',\n"
		"a backup taken before the rotation opens nothing. Nothing personal is\n"
		"printed. Exit 0 when every row opens, 1 when some do not.\n";
	struct cli_opts o;
	struct vault_check_report r;
	struct smile_error e = {0};
	int rc;

	if (argc < 2 || strcmp(argv[1], "check") != 0) {
		int help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
		if (!help && argc >= 2)
			fprintf(stderr, "smile-gateway: vault: unknown action '%s'\n", argv[1]);
		fputs(usage, help ? stdout : stderr);
		return help ? 0 : 2;
	}
	rc = cli_parse(argc - 1, argv + 1, &o, usage, 1, 0);
	if (rc)
		return rc == 1 ? 0 : rc;
	if (vault_rotate_check(o.data, o.store, &r, &e) != SMILE_OK)
		return cli_fail("vault check", &e);
	printf("rows holding personal data: %llu\n", (unsigned long long)r.rows);
	printf("open with the vault keys of %s: %llu\n", o.data, (unsigned long long)r.opened);
	printf("wrapped by a vault key not held: %llu\n", (unsigned long long)r.not_held);
	for (int i = 0; i < r.n_kids; i++)
		printf("  vault key %08x: %llu\n", (unsigned)r.kids[i].kid,
		       (unsigned long long)r.kids[i].rows);
	printf("held key, but altered or damaged: %llu", (unsigned long long)r.failed);
	if (r.failed)
		printf(" (first: shipment id %llu)", (unsigned long long)r.first_failed);
	putchar('\n');
	return r.opened == r.rows ? 0 : 1;
}
