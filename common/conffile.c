/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conffile.c - the table-driven "key = value" parser and writer (conffile.h).
 *
 * Parsing works on a heap copy of the caller's struct and copies it back only
 * when every line was good, so a bad file never half-applies.
 */
#include "smile/conffile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_BYTES 1024

static char *trim(char *s)
{
	char *end;
	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

const struct smile_conf_key *smile_conf_find(const struct smile_conf_key *keys, size_t n_keys,
					     const char *name)
{
	for (size_t i = 0; i < n_keys; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static enum smile_err set_value(void *conf, const struct smile_conf_key *k, const char *val,
				int line, struct smile_error *e)
{
	char field[SMILE_ERROR_FIELD_MAX];
	snprintf(field, sizeof(field), "line %d: %.40s", line, k->name);
	if (k->kind == SMILE_CONF_STR) {
		size_t n = strlen(val);
		if (n >= k->size)
			return smile_error_set(e, SMILE_ERR_CONFIG, field,
					       "value is %zu bytes, at most %zu", n, k->size - 1);
		memcpy((char *)conf + k->off, val, n + 1);
		return SMILE_OK;
	}
	char *end;
	errno = 0;
	long v = strtol(val, &end, 10);
	if (errno || end == val || *end != '\0')
		return smile_error_set(e, SMILE_ERR_CONFIG, field, "not a whole number");
	if (v < k->min || v > k->max)
		return smile_error_set(e, SMILE_ERR_CONFIG, field, "%ld is outside %ld..%ld", v,
				       k->min, k->max);
	*(long *)(void *)((char *)conf + k->off) = v;
	return SMILE_OK;
}

enum smile_err smile_conf_parse(const struct smile_conf_key *keys, size_t n_keys, void *conf,
				size_t conf_size, const char *text, size_t len,
				struct smile_error *e)
{
	char line[LINE_MAX_BYTES];
	unsigned char *seen = calloc(n_keys ? n_keys : 1, 1);
	void *tmp = malloc(conf_size);
	enum smile_err rc = SMILE_OK;
	size_t pos = 0;
	int lineno = 0;

	if (seen == NULL || tmp == NULL) {
		rc = smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
		goto out;
	}
	memcpy(tmp, conf, conf_size);
	while (pos < len && rc == SMILE_OK) {
		size_t start = pos, n;
		while (pos < len && text[pos] != '\n')
			pos++;
		n = pos - start;
		pos++; /* past '\n' */
		lineno++;
		if (n >= sizeof(line)) {
			rc = smile_error_set(e, SMILE_ERR_CONFIG, NULL, "line %d: longer than %zu bytes",
					     lineno, sizeof(line) - 1);
			break;
		}
		memcpy(line, text + start, n);
		line[n] = '\0';
		if (strlen(line) != n) {
			rc = smile_error_set(e, SMILE_ERR_CONFIG, NULL, "line %d: NUL byte", lineno);
			break;
		}
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *s = trim(line);
		if (*s == '\0')
			continue;
		char *eq = strchr(s, '=');
		if (eq == NULL) {
			rc = smile_error_set(e, SMILE_ERR_CONFIG, NULL,
					     "line %d: expected key = value", lineno);
			break;
		}
		*eq = '\0';
		char *key = trim(s), *val = trim(eq + 1);
		const struct smile_conf_key *k = smile_conf_find(keys, n_keys, key);
		char field[SMILE_ERROR_FIELD_MAX];
		if (k == NULL) {
			snprintf(field, sizeof(field), "line %d", lineno);
			rc = smile_error_set(e, SMILE_ERR_CONFIG, field, "unknown key '%.40s'", key);
			break;
		}
		if (seen[k - keys]) {
			snprintf(field, sizeof(field), "line %d: %.40s", lineno, k->name);
			rc = smile_error_set(e, SMILE_ERR_CONFIG, field, "key given twice");
			break;
		}
		seen[k - keys] = 1;
		rc = set_value(tmp, k, val, lineno, e);
	}
	if (rc == SMILE_OK)
		memcpy(conf, tmp, conf_size);
out:
	free(seen);
	free(tmp);
	return rc;
}

void smile_conf_write(const struct smile_conf_key *keys, size_t n_keys, const void *conf,
		      FILE *f)
{
	for (size_t i = 0; i < n_keys; i++) {
		const struct smile_conf_key *k = &keys[i];
		fprintf(f, "\n# %s\n", k->help);
		if (k->kind == SMILE_CONF_STR)
			fprintf(f, "%s = %s\n", k->name, (const char *)conf + k->off);
		else
			fprintf(f, "%s = %ld\n", k->name,
				*(const long *)(const void *)((const char *)conf + k->off));
	}
}
