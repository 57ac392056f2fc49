/* SPDX-License-Identifier: Apache-2.0 */
/*
 * error.h - the one error enum of Smile, and error details that name a field.
 *
 * Every fallible function in Smile returns an `enum smile_err`: 0 is success.
 * Values are part of the ABI and of log lines: never renumber one, only append.
 * A code says *what kind* of failure; a `struct smile_error` adds *where*
 * (the field path, e.g. "recipient.phone") and a short human message.
 *
 * Messages must never contain personal data: describe the input ("7 digits,
 * need 5-15"), never echo it.
 */
#ifndef SMILE_ERROR_H
#define SMILE_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SMILE_MUST_CHECK __attribute__((warn_unused_result))
#define SMILE_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SMILE_MUST_CHECK
#define SMILE_PRINTF(f, a)
#endif

enum smile_err {
	SMILE_OK = 0,
	/* generic */
	SMILE_ERR_NOMEM = 1,          /* out of memory */
	SMILE_ERR_INVALID = 2,        /* invalid argument or input */
	SMILE_ERR_TOO_LARGE = 3,      /* input over its cap */
	SMILE_ERR_IO = 4,             /* read/write/fsync failed */
	SMILE_ERR_NOT_FOUND = 5,      /* no such object */
	SMILE_ERR_EXISTS = 6,         /* already exists */
	SMILE_ERR_PERMISSION = 7,     /* not allowed (role, file mode) */
	SMILE_ERR_UTF8 = 8,           /* invalid UTF-8 */
	SMILE_ERR_JSON = 9,           /* malformed JSON */
	SMILE_ERR_MISSING_FIELD = 10, /* a required field is absent */
	SMILE_ERR_FIELD_TYPE = 11,    /* a field has the wrong type */
	SMILE_ERR_FIELD_VALUE = 12,   /* a field's value is not acceptable */
	SMILE_ERR_BUFFER_SMALL = 13,  /* caller's buffer too small */
	SMILE_ERR_INTERNAL = 14,      /* a bug: an invariant did not hold */
	SMILE_ERR_UNSUPPORTED = 15,   /* option or format not supported */
	SMILE_ERR_CONFIG = 16,        /* configuration invalid */
	SMILE_ERR_BUSY = 17,          /* queue full, try again */
	SMILE_ERR_TIMEOUT = 18,       /* gave up waiting */
	/* label */
	SMILE_ERR_LABEL_UNMASKED = 30, /* record would print personal data */
	SMILE_ERR_LABEL_NO_FIT = 31,   /* text does not fit at minimum size */
	SMILE_ERR_LABEL_GLYPH = 32,    /* no installed font covers a character */
	SMILE_ERR_LABEL_RENDER = 33,   /* cairo/pango/zint/qrencode failed */
	SMILE_ERR_LABEL_CODE = 34,     /* data cannot be encoded as QR/Code128 */
	/* crypto and tokens */
	SMILE_ERR_CRYPTO = 40,         /* libsodium failed or is unavailable */
	SMILE_ERR_TOKEN_MALFORMED = 41,/* not a token: bad prefix or encoding */
	SMILE_ERR_TOKEN_VERSION = 42,  /* token version not supported */
	SMILE_ERR_TOKEN_TRUNCATED = 43,/* token shorter than its format */
	SMILE_ERR_TOKEN_UNKNOWN_KEY = 44, /* key id not held (or retired) */
	SMILE_ERR_TOKEN_TAMPERED = 45, /* authentication failed */
	SMILE_ERR_DECRYPT = 46,        /* ciphertext did not authenticate */
	SMILE_ERR_BAD_SIGNATURE = 47,  /* signature did not verify */
	SMILE_ERR_SHREDDED = 48,       /* personal data was erased */
	/* store */
	SMILE_ERR_STORE = 60,          /* database error */
	SMILE_ERR_CONFLICT = 61,       /* concurrent or idempotency conflict */
	SMILE_ERR_SCHEMA = 62,         /* schema version unknown/newer */
	/* protocol and devices */
	SMILE_ERR_PROTO = 70,          /* malformed protocol message */
	SMILE_ERR_PROTO_VERSION = 71,  /* protocol version not supported */
	SMILE_ERR_STALE = 72,          /* time outside the allowed skew */
	SMILE_ERR_REPLAY = 73,         /* sequence number reused */
	SMILE_ERR_DEVICE_UNKNOWN = 74, /* device not enrolled */
	SMILE_ERR_DEVICE_INACTIVE = 75,/* suspended or revoked */
	SMILE_ERR_QUOTA = 76,          /* over quota */
	SMILE_ERR_QUEUE_FULL = 77,     /* offline queue full */
	SMILE_ERR_DENIED = 78,         /* policy refused */
	SMILE_ERR_AUDIT_BROKEN = 79,   /* audit chain does not verify */
	SMILE_ERR_MQTT = 80,           /* broker connection failed */
	SMILE_ERR_HTTP = 81,           /* HTTP server failed */
	/* printers (include/smile/printer.h) */
	SMILE_ERR_PRINTER_UNREACHABLE = 90, /* no connection: nothing was sent */
	SMILE_ERR_PRINTER_NOT_READY = 91,   /* paper out, head open, paused, queue
					     * stopped...: nothing was sent */
	SMILE_ERR_PRINTER_JOB = 92,         /* the job stopped, was cancelled or aborted */
	SMILE_ERR_PRINTER_UNCERTAIN = 93,   /* broke while sending: may have printed */
	SMILE_ERR_PRINTER_PROTO = 94        /* the printer's answer made no sense */
};

/* Short static description of a code; never NULL (unknown codes included). */
const char *smile_strerror(int err);
/* Stable machine name, e.g. "token_tampered"; never NULL. */
const char *smile_errname(int err);

#define SMILE_ERROR_FIELD_MAX 64
#define SMILE_ERROR_MSG_MAX 192

/*
 * Details of one failure. `field` is a path into the input ("recipient.phone",
 * "line 12"), empty when none applies; `message` says what was wrong.
 * Caller-owned, no heap: `struct smile_error e = {0};` is a valid empty one.
 */
struct smile_error {
	enum smile_err code;
	char field[SMILE_ERROR_FIELD_MAX];
	char message[SMILE_ERROR_MSG_MAX];
};

/*
 * Record a failure in `e` (which may be NULL) and return `code`, so callers
 * can write `return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "weight_g",
 * "%ld is negative", w);`. `field` may be NULL. The format must not be fed
 * personal data.
 */
enum smile_err smile_error_set(struct smile_error *e, enum smile_err code,
			       const char *field, const char *fmt, ...)
	SMILE_PRINTF(4, 5);

/* Prefix the field path: "phone" becomes "recipient.phone". */
void smile_error_prefix(struct smile_error *e, const char *prefix);

/* "recipient.phone: 7 digits, need 5-15" (or just the message) into buf. */
const char *smile_error_format(const struct smile_error *e, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
