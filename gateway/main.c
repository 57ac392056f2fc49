/*
 * main.c - smile-gateway: command line, signals, and wiring the modules.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gateway.h"
#include "smile/keys.h"
#include "smile/log.h"

static const char usage_top[] =
	"usage: smile-gateway COMMAND [OPTIONS]\n"
	"\n"
	"The Smile gateway: issues privacy-preserving waybills over HTTP and keeps\n"
	"recipients' contact details in an encrypted vault.\n"
	"\n"
	"commands:\n"
	"  init   --data DIR                 create a data directory (keys, config, store,\n"
	"                                    first admin API key in DIR/admin.key)\n"
	"  serve  --data DIR [--listen H:P]  serve the HTTP API until SIGTERM/SIGINT\n"
	"  keys rotate --data DIR            new token key for new labels (old ones still open)\n"
	"  keys retire --data DIR --kid N    destroy token key N (its labels stop opening)\n"
	"  retention --data DIR              run the retention job once and exit\n"
	"\n"
	"Run 'smile-gateway COMMAND --help' for a command's options. Logs are\n"
	"structured lines on stderr (SMILE_LOG_LEVEL=debug|info|warn|error).\n";

static int fail(const char *what, const struct smile_error *e)
{
	char msg[SMILE_ERROR_FIELD_MAX + SMILE_ERROR_MSG_MAX + 4];
	fprintf(stderr, "smile-gateway: %s: %s (%s)\n", what, smile_error_format(e, msg, sizeof(msg)),
		smile_errname(e->code));
	return 1;
}

struct opts {
	const char *data;
	const char *listen;
	long kid;
	int help;
};

static int parse_opts(int argc, char **argv, struct opts *o, const char *usage)
{
	static const struct option longopts[] = {
		{"data", required_argument, NULL, 'd'},
		{"listen", required_argument, NULL, 'l'},
		{"kid", required_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	char *end;
	memset(o, 0, sizeof(*o));
	o->kid = -1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:l:k:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o->data = optarg;
			break;
		case 'l':
			o->listen = optarg;
			break;
		case 'k':
			errno = 0;
			o->kid = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || o->kid < 0 || o->kid > 255) {
				fprintf(stderr, "smile-gateway: --kid: expected 0-255\n");
				return 2;
			}
			break;
		case 'h':
			fputs(usage, stdout);
			o->help = 1;
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
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
}

static int cmd_init(int argc, char **argv)
{
	static const char usage[] =
		"usage: smile-gateway init --data DIR\n"
		"\n"
		"Create DIR (mode 0700) with:\n"
		"  keys/          token, vault, signing and box keys (0600 each)\n"
		"  gateway.conf   every setting with its default, commented\n"
		"  store.db       the SQLite store\n"
		"  admin.key      the first admin API key (0600): use it as\n"
		"                 Authorization: Bearer $(cat DIR/admin.key)\n"
		"Refuses a directory that is already initialised.\n";
	struct opts o;
	struct smile_error e = {0};
	int rc = parse_opts(argc, argv, &o, usage);
	if (rc || o.help)
		return rc;
	if (gateway_init_dir(o.data, &e) != SMILE_OK)
		return fail("init", &e);
	printf("initialised %s\n  config:    %s/gateway.conf\n  admin key: %s/admin.key\n"
	       "start it:  smile-gateway serve --data %s\n",
	       o.data, o.data, o.data, o.data);
	return 0;
}

static int cmd_serve(int argc, char **argv)
{
	static const char usage[] =
		"usage: smile-gateway serve --data DIR [--listen HOST:PORT]\n"
		"\n"
		"Serve the HTTP API (docs/api.md) until SIGTERM or SIGINT, then finish\n"
		"in-flight requests and exit. --listen overrides 'listen' in gateway.conf\n"
		"(port 0 picks a free port; the chosen one is logged as http.listening).\n"
		"Refuses to start when a key file is readable by others.\n";
	struct opts o;
	struct smile_error e = {0};
	struct gateway g;
	sigset_t set;
	int sig, rc = parse_opts(argc, argv, &o, usage);

	if (rc || o.help)
		return rc;
	/* Signals go to this thread only, via sigwait, never to workers. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (gateway_open(&g, o.data, &e) != SMILE_OK)
		return fail("serve", &e);
	if (gateway_http_start(&g, o.listen, &e) != SMILE_OK) {
		gateway_close(&g);
		return fail("serve", &e);
	}
	if (gateway_retention_start(&g) != SMILE_OK) {
		gateway_close(&g);
		fprintf(stderr, "smile-gateway: serve: cannot start the retention job\n");
		return 1;
	}
	smile_log(SMILE_LOG_INFO, "http.listening", SMILE_KV_INT("port", g.http_port),
		  SMILE_KV_ID("policy", smile_mask_policy_name(g.policy)));
	sigwait(&set, &sig);
	smile_log(SMILE_LOG_INFO, "gateway.stopping", SMILE_KV_INT("signal", sig));
	gateway_close(&g);
	smile_log0(SMILE_LOG_INFO, "gateway.stopped");
	return 0;
}

static int cmd_retention(int argc, char **argv)
{
	static const char usage[] =
		"usage: smile-gateway retention --data DIR\n"
		"\n"
		"Erase personal data now for every shipment past its retention period\n"
		"(retention_after_delivery_days / retention_after_issue_days in\n"
		"gateway.conf); prints how many. 'serve' also runs this job periodically.\n";
	struct opts o;
	struct smile_error e = {0};
	struct gateway g;
	int rc = parse_opts(argc, argv, &o, usage);
	if (rc || o.help)
		return rc;
	if (gateway_open(&g, o.data, &e) != SMILE_OK)
		return fail("retention", &e);
	printf("erased personal data of %zu shipment(s)\n", gateway_retention_run(&g));
	gateway_close(&g);
	return 0;
}

static int cmd_keys(int argc, char **argv)
{
	static const char usage[] =
		"usage: smile-gateway keys rotate --data DIR\n"
		"       smile-gateway keys retire --data DIR --kid N\n"
		"\n"
		"rotate: create a new token key and mint new labels with it; labels\n"
		"        printed with older keys still open until those are retired.\n"
		"retire: destroy token key N; labels minted with it no longer open.\n"
		"        The current key cannot be retired (rotate first).\n"
		"Restart 'serve' afterwards to use the new key set.\n";
	struct opts o;
	struct smile_error e = {0};
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	rc = parse_opts(argc - 1, argv + 1, &o, usage);
	if (rc || o.help)
		return rc;
	if (strcmp(argv[1], "rotate") == 0) {
		uint8_t kid;
		if (smile_keys_rotate_token(o.data, &kid, &e) != SMILE_OK)
			return fail("keys rotate", &e);
		printf("token key %u is now current\n", kid);
		return 0;
	}
	if (strcmp(argv[1], "retire") == 0) {
		if (o.kid < 0) {
			fprintf(stderr, "smile-gateway: keys retire: --kid N is required\n");
			return 2;
		}
		if (smile_keys_retire_token(o.data, (uint8_t)o.kid, &e) != SMILE_OK)
			return fail("keys retire", &e);
		printf("token key %ld retired\n", o.kid);
		return 0;
	}
	fprintf(stderr, "smile-gateway: keys: unknown action '%s'\n%s", argv[1], usage);
	return 2;
}

int main(int argc, char **argv)
{
	umask(077);
	if (argc < 2) {
		fputs(usage_top, stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage_top, stdout);
		return 0;
	}
	if (strcmp(argv[1], "init") == 0)
		return cmd_init(argc - 1, argv + 1);
	if (strcmp(argv[1], "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (strcmp(argv[1], "keys") == 0)
		return cmd_keys(argc - 1, argv + 1);
	if (strcmp(argv[1], "retention") == 0)
		return cmd_retention(argc - 1, argv + 1);
	fprintf(stderr, "smile-gateway: unknown command '%s'\n\n%s", argv[1], usage_top);
	return 2;
}
