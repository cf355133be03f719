/*
 * run: drives one provider step program (a tool, a verify: anything with
 * the publish step protocol of provider.h that only reads) on a loop's
 * outbound client, outside the engine.  Used by the integration-trigger
 * tools and credential checks of the API (answered later, api_defer) and
 * by `herald channels add`, which runs a private loop until it is done.
 *
 * Invariants: `done` is called exactly once, on the loop's thread (possibly
 * before prun_start returns, when the program needs no request).  At most
 * max_steps requests; each request's own timeout bounds the wait.  Nothing
 * is recorded as an attempt: these requests change nothing on the platform.
 *
 * Ownership: the caller owns the struct prun (in its arena, alive until
 * done) and everything in ctx; the runner keeps arena copies of the last
 * answer in ctx.a.
 */
#ifndef HERALD_PROVIDERS_RUN_H
#define HERALD_PROVIDERS_RUN_H

#include "provider.h"
#include "../core/error.h"

struct hclient;

struct prun {
	/* in */
	const struct provider *pr;
	enum pub_status (*run)(struct pub_ctx *c, const struct hresp *prev);
	struct pub_ctx ctx;  /* a, credentials, base_url, ... set by the caller */
	struct hclient *hc;  /* NULL: the program fails as unreachable */
	int max_steps;       /* 0: 12 */
	int allow_refresh;   /* PUB_AUTH_EXPIRED: pr->refresh once, then again */
	/* credentials changed (tokens, a refresh): store them; may be NULL */
	void (*on_credentials)(struct prun *p);
	/* a request is about to leave for the first time; may be NULL */
	void (*before_send)(struct prun *p);
	void (*done)(struct prun *p, enum pub_status st);
	void *arg;
	/* out, valid in done */
	const char *transport_error; /* the last request got no HTTP answer (why, with its URL) */
	long last_status;            /* HTTP status of the last answer, 0 when none */
	const char *last_body;       /* its body, at most 4 KiB (NULL when none) */
	int steps, refreshed, sent;
};

void prun_start(struct prun *p);

/* How a finished verify (provider->verify) failed, as an error code of
 * SPEC 5: HERR_CREDENTIALS_REJECTED (the platform refused them: *field
 * names the credential), HERR_PLATFORM_RATE_LIMITED or
 * HERR_PLATFORM_UNAVAILABLE (down, busy, unreachable: retryable), with
 * *msg in the platform's words.  HERR_OK when st is PUB_OK. */
enum herr prun_verify_error(const struct prun *p, enum pub_status st, const char **msg,
			    const char **field);

/* An answer's text as an error may show it (platformResponse): parsed
 * when it is JSON, with every credential string value of `cred` and the
 * values of secret-looking keys (token, jwt, secret, password, key)
 * replaced by "[redacted]"; a JSON string of the redacted text otherwise;
 * NULL for NULL or empty.  New reference. */
json_t *prun_redact(const char *body, json_t *cred);

#endif
