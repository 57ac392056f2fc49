/* SPDX-License-Identifier: Apache-2.0 */
/*
 * error.c - names and messages for enum smile_err, and field-naming details.
 *
 * A single table indexed by code keeps the name, message and value together,
 * so adding a code is one line here and one in error.h.
 */
#include "smile/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct err_info {
	const char *name;
	const char *message;
};

static const struct err_info err_table[] = {
	[SMILE_OK] = {"ok", "success"},
	[SMILE_ERR_NOMEM] = {"nomem", "out of memory"},
	[SMILE_ERR_INVALID] = {"invalid", "invalid input"},
	[SMILE_ERR_TOO_LARGE] = {"too_large", "input too large"},
	[SMILE_ERR_IO] = {"io", "input/output error"},
	[SMILE_ERR_NOT_FOUND] = {"not_found", "not found"},
	[SMILE_ERR_EXISTS] = {"exists", "already exists"},
	[SMILE_ERR_PERMISSION] = {"permission", "permission denied"},
	[SMILE_ERR_UTF8] = {"invalid_utf8", "invalid UTF-8"},
	[SMILE_ERR_JSON] = {"invalid_json", "malformed JSON"},
	[SMILE_ERR_MISSING_FIELD] = {"missing_field", "required field missing"},
	[SMILE_ERR_FIELD_TYPE] = {"wrong_type", "field has the wrong type"},
	[SMILE_ERR_FIELD_VALUE] = {"invalid_value", "field value not acceptable"},
	[SMILE_ERR_BUFFER_SMALL] = {"buffer_small", "buffer too small"},
	[SMILE_ERR_INTERNAL] = {"internal", "internal error"},
	[SMILE_ERR_UNSUPPORTED] = {"unsupported", "not supported"},
	[SMILE_ERR_CONFIG] = {"config", "configuration invalid"},
	[SMILE_ERR_BUSY] = {"busy", "busy, try again"},
	[SMILE_ERR_TIMEOUT] = {"timeout", "timed out"},
	[SMILE_ERR_LABEL_UNMASKED] = {"label_unmasked", "record would print unmasked personal data"},
	[SMILE_ERR_LABEL_NO_FIT] = {"label_no_fit", "text does not fit on the label"},
	[SMILE_ERR_LABEL_GLYPH] = {"label_glyph", "no installed font covers a character"},
	[SMILE_ERR_LABEL_RENDER] = {"label_render", "label rendering failed"},
	[SMILE_ERR_LABEL_CODE] = {"label_code", "data cannot be encoded as a barcode"},
	[SMILE_ERR_CRYPTO] = {"crypto", "cryptography failure"},
	[SMILE_ERR_TOKEN_MALFORMED] = {"token_malformed", "token malformed"},
	[SMILE_ERR_TOKEN_VERSION] = {"token_version", "token version not supported"},
	[SMILE_ERR_TOKEN_TRUNCATED] = {"token_truncated", "token truncated"},
	[SMILE_ERR_TOKEN_UNKNOWN_KEY] = {"token_unknown_key", "token key unknown or retired"},
	[SMILE_ERR_TOKEN_TAMPERED] = {"token_tampered", "token failed authentication"},
	[SMILE_ERR_DECRYPT] = {"decrypt", "ciphertext failed authentication"},
	[SMILE_ERR_BAD_SIGNATURE] = {"bad_signature", "signature did not verify"},
	[SMILE_ERR_SHREDDED] = {"erased", "personal data was erased"},
	[SMILE_ERR_STORE] = {"store", "store error"},
	[SMILE_ERR_CONFLICT] = {"conflict", "conflict"},
	[SMILE_ERR_SCHEMA] = {"schema", "store schema version not supported"},
	[SMILE_ERR_PROTO] = {"proto", "malformed protocol message"},
	[SMILE_ERR_PROTO_VERSION] = {"proto_version", "protocol version not supported"},
	[SMILE_ERR_STALE] = {"stale", "message time outside allowed skew"},
	[SMILE_ERR_REPLAY] = {"replay", "sequence number already used"},
	[SMILE_ERR_DEVICE_UNKNOWN] = {"device_unknown", "device not enrolled"},
	[SMILE_ERR_DEVICE_INACTIVE] = {"device_inactive", "device suspended or revoked"},
	[SMILE_ERR_QUOTA] = {"quota", "over quota"},
	[SMILE_ERR_QUEUE_FULL] = {"queue_full", "queue full"},
	[SMILE_ERR_DENIED] = {"denied", "denied by policy"},
	[SMILE_ERR_AUDIT_BROKEN] = {"audit_broken", "audit chain does not verify"},
	[SMILE_ERR_MQTT] = {"mqtt", "MQTT connection failed"},
	[SMILE_ERR_HTTP] = {"http", "HTTP server failed"},
	[SMILE_ERR_PRINTER_UNREACHABLE] = {"printer_unreachable", "printer unreachable"},
	[SMILE_ERR_PRINTER_NOT_READY] = {"printer_not_ready", "printer not ready"},
	[SMILE_ERR_PRINTER_JOB] = {"printer_job", "print job did not complete"},
	[SMILE_ERR_PRINTER_UNCERTAIN] = {"printer_uncertain", "print job may or may not have printed"},
	[SMILE_ERR_PRINTER_PROTO] = {"printer_proto", "printer answer not understood"},
};

static const struct err_info *lookup(int err)
{
	if (err < 0 || (size_t)err >= sizeof(err_table) / sizeof(err_table[0]) ||
	    err_table[err].name == NULL)
		return NULL;
	return &err_table[err];
}

const char *smile_strerror(int err)
{
	const struct err_info *i = lookup(err);
	return i ? i->message : "unknown error code";
}

const char *smile_errname(int err)
{
	const struct err_info *i = lookup(err);
	return i ? i->name : "unknown";
}

enum smile_err smile_error_set(struct smile_error *e, enum smile_err code,
			       const char *field, const char *fmt, ...)
{
	if (e == NULL)
		return code;
	e->code = code;
	snprintf(e->field, sizeof(e->field), "%s", field ? field : "");
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->message, sizeof(e->message), fmt, ap);
		va_end(ap);
	} else {
		snprintf(e->message, sizeof(e->message), "%s", smile_strerror(code));
	}
	return code;
}

void smile_error_prefix(struct smile_error *e, const char *prefix)
{
	/* twice the size so the compiler can see nothing is cut before we cut */
	char tmp[2 * SMILE_ERROR_FIELD_MAX + 2];

	if (e == NULL || prefix == NULL || *prefix == '\0')
		return;
	if (e->field[0] == '\0')
		snprintf(tmp, sizeof(tmp), "%s", prefix);
	else if (e->field[0] == '[')
		snprintf(tmp, sizeof(tmp), "%s%s", prefix, e->field);
	else
		snprintf(tmp, sizeof(tmp), "%s.%s", prefix, e->field);
	snprintf(e->field, sizeof(e->field), "%.*s", (int)sizeof(e->field) - 1, tmp);
}

const char *smile_error_format(const struct smile_error *e, char *buf, size_t n)
{
	if (n == 0)
		return buf;
	if (e == NULL) {
		buf[0] = '\0';
		return buf;
	}
	const char *msg = e->message[0] ? e->message : smile_strerror(e->code);
	if (e->field[0])
		snprintf(buf, n, "%s: %s", e->field, msg);
	else
		snprintf(buf, n, "%s", msg);
	return buf;
}
