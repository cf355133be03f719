/*
 * error: the one error vocabulary of herald (SPEC 5).
 *
 * Codes are stable strings; each maps to one HTTP status.  New failure kinds
 * get a new narrow code here, an existing code is never widened.  The
 * envelope builder lives in the api layer (it needs the request id); this
 * table is the source of truth for code -> status and for the docs.
 */
#ifndef HERALD_ERROR_H
#define HERALD_ERROR_H

enum herr {
	HERR_OK = 0,
	HERR_VALIDATION,          /* validation_failed 400 */
	HERR_PREFLIGHT,           /* preflight_failed 400 */
	HERR_UNAUTHENTICATED,     /* 401 */
	HERR_UNAUTHORIZED,        /* 403 */
	HERR_NOT_FOUND,           /* 404 */
	HERR_METHOD_NOT_ALLOWED,  /* 405 */
	HERR_INVALID_STATE,       /* 409 */
	HERR_IDEMPOTENCY_CONFLICT,
	HERR_IDEMPOTENCY_IN_PROGRESS,
	HERR_PAYLOAD_TOO_LARGE,   /* 413 */
	HERR_UNSUPPORTED_MEDIA,   /* 415 */
	HERR_RATE_LIMITED,        /* 429 */
	HERR_PLATFORM_AUTH,
	HERR_PLATFORM_REJECTED,
	HERR_PLATFORM_RATE_LIMITED,
	HERR_PLATFORM_UNAVAILABLE,
	HERR_INTERNAL,            /* 500 */
	HERR_UNAVAILABLE,         /* 503: not ready, shutting down */
	HERR_NOT_ACCEPTABLE,      /* 406 */
	HERR_ORIGIN_FORBIDDEN,    /* 403: browser Origin not allowed (MCP) */
	HERR_CREDENTIALS_REJECTED, /* 400: connecting a channel, the platform refused them */
	HERR__COUNT
};

struct herr_info {
	const char *code;
	int status;
	int retryable;
	const char *summary;
};

const struct herr_info *herr_info(enum herr e);

#endif
