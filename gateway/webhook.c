/* SPDX-License-Identifier: Apache-2.0 */
/*
 * webhook.c - the decisions of webhook delivery, with no I/O but DNS:
 * secrets, signatures, the address rule, URL checks, the retry schedule.
 *
 * The one idea: every rule a test must pin down is a pure function here, so
 * the worker (webhook_worker.c) only moves bytes. The address rule is
 * applied twice, at registration (webhook_url_check resolves the host) and
 * at every connection (the worker's CURLOPT_OPENSOCKETFUNCTION calls
 * webhook_addr_allowed on the very address curl is about to connect to), so
 * a name that resolves elsewhere later (DNS rebinding) gains nothing.
 *
 * Secrets at rest: HMAC needs the secret itself, so it cannot be hashed
 * like an API key. It is sealed with XChaCha20-Poly1305 under a key derived
 * (BLAKE2b, its own domain label) from the gateway's signing key, the
 * endpoint id as associated data. Not the vault key: a vault rotation
 * (docs/vault.md) rewraps personal rows only, and webhook secrets must keep
 * opening across it; the signing key is the one key whose loss already
 * means a new gateway identity (event ids derive from it too).
 */
#include "webhook.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_PREFIX "whsec_"
#define SEAL_DOMAIN "smile/v1 webhook-secret"

void webhook_secret_new(char out[WEBHOOK_SECRET_MAX])
{
	uint8_t raw[32];
	randombytes_buf(raw, sizeof(raw));
	memcpy(out, SECRET_PREFIX, sizeof(SECRET_PREFIX) - 1);
	sodium_bin2base64(out + sizeof(SECRET_PREFIX) - 1,
			  WEBHOOK_SECRET_MAX - (sizeof(SECRET_PREFIX) - 1), raw, sizeof(raw),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
}

static void seal_key(const struct smile_keys *k, uint8_t key[32])
{
	crypto_generichash(key, 32, (const unsigned char *)SEAL_DOMAIN, sizeof(SEAL_DOMAIN),
			   smile_keys_sign_sk(k), 64);
}

enum smile_err webhook_secret_seal(const struct smile_keys *k, const char *id, const char *secret,
				   char out[SMILE_STORE_SEALED_MAX])
{
	enum { NB = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
	       AB = crypto_aead_xchacha20poly1305_ietf_ABYTES };
	uint8_t key[32], buf[NB + WEBHOOK_SECRET_MAX + AB];
	size_t n = strlen(secret);
	unsigned long long clen = 0;

	if (n >= WEBHOOK_SECRET_MAX || (NB + n + AB) * 2 + 1 > SMILE_STORE_SEALED_MAX)
		return SMILE_ERR_TOO_LARGE;
	seal_key(k, key);
	randombytes_buf(buf, NB);
	crypto_aead_xchacha20poly1305_ietf_encrypt(buf + NB, &clen, (const uint8_t *)secret, n,
						   (const uint8_t *)id, strlen(id), NULL, buf, key);
	sodium_memzero(key, sizeof(key));
	sodium_bin2hex(out, SMILE_STORE_SEALED_MAX, buf, NB + (size_t)clen);
	return SMILE_OK;
}

enum smile_err webhook_secret_open(const struct smile_keys *k, const char *id, const char *sealed,
				   char out[WEBHOOK_SECRET_MAX])
{
	enum { NB = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
	       AB = crypto_aead_xchacha20poly1305_ietf_ABYTES };
	uint8_t key[32], buf[NB + WEBHOOK_SECRET_MAX + AB];
	size_t n = 0;
	unsigned long long plen = 0;
	int bad;

	out[0] = '\0';
	if (sodium_hex2bin(buf, sizeof(buf), sealed, strlen(sealed), NULL, &n, NULL) != 0 ||
	    n < NB + AB || n - NB - AB >= WEBHOOK_SECRET_MAX)
		return SMILE_ERR_DECRYPT;
	seal_key(k, key);
	bad = crypto_aead_xchacha20poly1305_ietf_decrypt((uint8_t *)out, &plen, NULL, buf + NB,
							 n - NB, (const uint8_t *)id, strlen(id),
							 buf, key);
	sodium_memzero(key, sizeof(key));
	if (bad) {
		sodium_memzero(out, WEBHOOK_SECRET_MAX);
		return SMILE_ERR_DECRYPT;
	}
	out[plen] = '\0';
	return SMILE_OK;
}

void webhook_sign(const char *secret, int64_t t, const char *body, size_t len,
		  char out[WEBHOOK_SIG_MAX])
{
	crypto_auth_hmacsha256_state st;
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	char ts[24], hex[2 * sizeof(mac) + 1];
	int n = snprintf(ts, sizeof(ts), "%lld.", (long long)t);

	crypto_auth_hmacsha256_init(&st, (const uint8_t *)secret, strlen(secret));
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)ts, (unsigned long long)n);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
	sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
	snprintf(out, WEBHOOK_SIG_MAX, "t=%lld,v1=%s", (long long)t, hex);
}

/* ------------------------------------------------------------ addresses */

static int in_net(const uint8_t *a, const uint8_t *net, int prefix)
{
	int full = prefix / 8, rest = prefix % 8;
	if (memcmp(a, net, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[full] & mask) == (net[full] & mask);
}

static int v4_private(const uint8_t a[4])
{
	static const struct {
		uint8_t net[4];
		int prefix;
	} nets[] = {
		{{0, 0, 0, 0}, 8},       /* "this network", unspecified */
		{{10, 0, 0, 0}, 8},      /* RFC 1918 */
		{{100, 64, 0, 0}, 10},   /* shared address space (CGNAT) */
		{{127, 0, 0, 0}, 8},     /* loopback */
		{{169, 254, 0, 0}, 16},  /* link-local (cloud metadata) */
		{{172, 16, 0, 0}, 12},   /* RFC 1918 */
		{{192, 0, 0, 0}, 24},    /* IETF protocol assignments */
		{{192, 0, 2, 0}, 24},    /* documentation */
		{{192, 168, 0, 0}, 16},  /* RFC 1918 */
		{{198, 18, 0, 0}, 15},   /* benchmarking */
		{{198, 51, 100, 0}, 24}, /* documentation */
		{{203, 0, 113, 0}, 24},  /* documentation */
		{{224, 0, 0, 0}, 4},     /* multicast */
		{{240, 0, 0, 0}, 4},     /* reserved, broadcast */
	};
	for (size_t i = 0; i < sizeof(nets) / sizeof(nets[0]); i++)
		if (in_net(a, nets[i].net, nets[i].prefix))
			return 1;
	return 0;
}

static int v6_private(const uint8_t a[16])
{
	static const uint8_t zero[16] = {0};
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b};
	static const struct {
		uint8_t net[16];
		int prefix;
	} nets[] = {
		{{0xfe, 0x80}, 10},             /* link-local */
		{{0xfc, 0x00}, 7},              /* unique local */
		{{0xfe, 0xc0}, 10},             /* site-local (deprecated) */
		{{0xff, 0x00}, 8},              /* multicast */
		{{0x20, 0x01, 0x0d, 0xb8}, 32}, /* documentation */
		{{0x01, 0x00}, 64},             /* discard-only */
	};
	if (memcmp(a, zero, 15) == 0 && (a[15] == 0 || a[15] == 1))
		return 1; /* :: and ::1 */
	if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0 || memcmp(a, zero, 12) == 0)
		return v4_private(a + 12); /* IPv4 in IPv6 clothing: judged as IPv4 */
	for (size_t i = 0; i < sizeof(nets) / sizeof(nets[0]); i++)
		if (in_net(a, nets[i].net, nets[i].prefix))
			return 1;
	return 0;
}

int webhook_addr_private(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		return v4_private((const uint8_t *)&in->sin_addr);
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		return v6_private(in6->sin6_addr.s6_addr);
	}
	return 1;
}

int webhook_addr_allowed(const struct webhook_allow *allow, const struct sockaddr *sa)
{
	const uint8_t *a;
	int family = sa->sa_family;

	if (!webhook_addr_private(sa) || (allow && allow->all))
		return family == AF_INET || family == AF_INET6;
	if (allow == NULL)
		return 0;
	if (family == AF_INET)
		a = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else
		a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
	for (int i = 0; i < allow->n; i++)
		if (allow->net[i].family == family && in_net(a, allow->net[i].addr, allow->net[i].prefix))
			return 1;
	return 0;
}

static int parse_cidr(const char *s, size_t len, int *family, uint8_t addr[16], int *prefix)
{
	char buf[64], *slash, *end;
	long p;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, buf, addr) == 1)
		*family = AF_INET;
	else if (inet_pton(AF_INET6, buf, addr) == 1)
		*family = AF_INET6;
	else
		return -1;
	p = *family == AF_INET ? 32 : 128;
	if (slash) {
		long max = p;
		p = strtol(slash + 1, &end, 10);
		if (end == slash + 1 || *end || p < 0 || p > max)
			return -1;
	}
	*prefix = (int)p;
	return 0;
}

enum smile_err webhook_allow_parse(const char *text, struct webhook_allow *out,
				   struct smile_error *e)
{
	const char *p = text;

	memset(out, 0, sizeof(*out));
	if (text[0] == '\0' || strcmp(text, "false") == 0)
		return SMILE_OK;
	if (strcmp(text, "true") == 0) {
		out->all = 1;
		return SMILE_OK;
	}
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		size_t len = strcspn(p, ", ");
		if (out->n == WEBHOOK_ALLOW_MAX)
			return smile_error_set(e, SMILE_ERR_CONFIG, "webhook_allow_private",
					       "at most %d networks", WEBHOOK_ALLOW_MAX);
		if (parse_cidr(p, len, &out->net[out->n].family, out->net[out->n].addr,
			       &out->net[out->n].prefix))
			return smile_error_set(e, SMILE_ERR_CONFIG, "webhook_allow_private",
					       "entry %d is not an address or CIDR "
					       "(true, false, or e.g. 127.0.0.0/8,::1/128)",
					       out->n + 1);
		out->n++;
		p += len;
	}
	return SMILE_OK;
}

/* ------------------------------------------------------------ URLs */

enum smile_err webhook_url_check(const char *url, int allow_http, const struct webhook_allow *allow,
				 struct smile_error *e)
{
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL, *user = NULL, *port = NULL;
	struct addrinfo hints = {0}, *res = NULL;
	enum smile_err rc = SMILE_OK;
	int https;

	if (strlen(url) >= SMILE_STORE_URL_MAX)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "url", "longer than %d bytes",
				       SMILE_STORE_URL_MAX - 1);
	u = curl_url();
	if (u == NULL)
		return smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		rc = smile_error_set(e, SMILE_ERR_FIELD_VALUE, "url", "not an absolute URL");
		goto out;
	}
	https = strcmp(scheme, "https") == 0;
	if (!https && !(allow_http && strcmp(scheme, "http") == 0)) {
		rc = smile_error_set(e, SMILE_ERR_FIELD_VALUE, "url",
				     allow_http ? "the scheme must be https or http"
						: "the scheme must be https (this gateway does not "
						  "allow plain http: webhook_allow_http)");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
		rc = smile_error_set(e, SMILE_ERR_FIELD_VALUE, "url",
				     "credentials in the URL are not accepted");
		goto out;
	}
	(void)curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
	/* "[::1]" -> "::1" */
	size_t hl = strlen(host);
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL) {
		rc = smile_error_set(e, SMILE_ERR_FIELD_VALUE, "url", "the host does not resolve");
		goto out;
	}
	for (struct addrinfo *a = res; a; a = a->ai_next)
		if (!webhook_addr_allowed(allow, a->ai_addr)) {
			rc = smile_error_set(e, SMILE_ERR_FIELD_VALUE, "url",
					     "the host resolves to a loopback, link-local, "
					     "private or reserved address (refused: "
					     "webhook_allow_private)");
			break;
		}
	freeaddrinfo(res);
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

/* ------------------------------------------------------------ schedule */

int64_t webhook_backoff_ms(uint32_t attempt, int64_t base_ms, int64_t cap_ms, uint32_t rnd)
{
	int64_t d = base_ms > 0 ? base_ms : 1;
	for (uint32_t i = 1; i < attempt && d < cap_ms; i++)
		d *= 2;
	if (d > cap_ms)
		d = cap_ms;
	return d / 2 + (int64_t)(rnd % (uint64_t)(d / 2 + 1));
}

int webhook_filter_valid(const char *filter)
{
	static const char *const names[] = {"created", "pickup", "hub_in", "hub_out",
					    "out_for_delivery", "delivery_failed", "delivered",
					    "returned", "erased"};
	enum { N = sizeof(names) / sizeof(names[0]) };
	int seen[N] = {0};
	const char *p = filter;

	if (strcmp(filter, "*") == 0)
		return 1;
	if (*p == '\0')
		return 0;
	for (;;) {
		size_t len = strcspn(p, ","), i;
		for (i = 0; i < N; i++)
			if (strlen(names[i]) == len && memcmp(p, names[i], len) == 0)
				break;
		if (i == N || seen[i]++)
			return 0;
		if (p[len] == '\0')
			return 1;
		p += len + 1;
	}
}
