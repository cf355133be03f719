#include "error.h"

static const struct herr_info table[HERR__COUNT] = {
	[HERR_OK] = {"ok", 200, 0, "no error"},
	[HERR_VALIDATION] = {"validation_failed", 400, 0, "the request is malformed or a field is invalid"},
	[HERR_PREFLIGHT] = {"preflight_failed", 400, 0, "the content breaks a platform rule"},
	[HERR_UNAUTHENTICATED] = {"unauthenticated", 401, 0, "missing or invalid API key"},
	[HERR_UNAUTHORIZED] = {"unauthorized", 403, 0, "the key may not do this"},
	[HERR_NOT_FOUND] = {"not_found", 404, 0, "no such resource in this organization"},
	[HERR_METHOD_NOT_ALLOWED] = {"method_not_allowed", 405, 0, "the route exists but not with this method"},
	[HERR_INVALID_STATE] = {"invalid_state", 409, 0, "the resource is not in a state that allows this"},
	[HERR_IDEMPOTENCY_CONFLICT] = {"idempotency_conflict", 409, 0, "the idempotency key was used with another body"},
	[HERR_IDEMPOTENCY_IN_PROGRESS] = {"idempotency_in_progress", 409, 1, "a request with this idempotency key is still running"},
	[HERR_PAYLOAD_TOO_LARGE] = {"payload_too_large", 413, 0, "the body is larger than allowed"},
	[HERR_UNSUPPORTED_MEDIA] = {"unsupported_media_type", 415, 0, "the body's type is not accepted here"},
	[HERR_RATE_LIMITED] = {"rate_limited", 429, 1, "too many requests"},
	[HERR_PLATFORM_AUTH] = {"platform_auth_failed", 401, 0, "the platform refused the channel's credentials"},
	[HERR_PLATFORM_REJECTED] = {"platform_rejected", 422, 0, "the platform refused the content"},
	[HERR_PLATFORM_RATE_LIMITED] = {"platform_rate_limited", 429, 1, "the platform's rate limit was hit"},
	[HERR_PLATFORM_UNAVAILABLE] = {"platform_unavailable", 502, 1, "the platform could not be reached"},
	[HERR_INTERNAL] = {"internal_error", 500, 1, "an unexpected error inside herald"},
	[HERR_UNAVAILABLE] = {"service_unavailable", 503, 1, "herald is not ready or is shutting down"},
	[HERR_NOT_ACCEPTABLE] = {"not_acceptable", 406, 0, "the Accept header allows no type this route answers with"},
	[HERR_ORIGIN_FORBIDDEN] = {"origin_not_allowed", 403, 0, "requests from this browser origin are refused"},
	/* 400, not platform_auth_failed's 401: the caller's request (its
	 * credentials field) is what to fix, and a 401 would read as a bad
	 * API key to HTTP clients */
	[HERR_CREDENTIALS_REJECTED] = {"credentials_rejected", 400, 0, "the platform refused the credentials given for a channel"},
};

const struct herr_info *herr_info(enum herr e)
{
	if (e < 0 || e >= HERR__COUNT)
		e = HERR_INTERNAL;
	return &table[e];
}
