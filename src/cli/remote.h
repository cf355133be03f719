/*
 * remote: the CLI's HTTP client for a herald server's /v1 API.
 *
 * libcurl easy interface, blocking, independent of the server's event loop.
 * One struct remote holds one easy handle, so sequential calls reuse the
 * kept-alive connection.  Every response body is bounded (REMOTE_MAX_BODY);
 * a larger one is a transport error, not unbounded memory.  Requests carry
 * "Authorization: Bearer <key>".  Responses are decoded as JSON when they
 * parse; an error envelope (SPEC 5) is decoded into struct remote_resp's
 * err_* fields (borrowed from resp->body, valid until remote_resp_free).
 *
 * Exit codes every remote command returns (documented in --help and the
 * man page): see enum cli_exit in cli.h.
 */
#ifndef HERALD_REMOTE_H
#define HERALD_REMOTE_H

#include <jansson.h>
#include <stdio.h>

#define REMOTE_MAX_BODY (16u << 20)

struct remote {
	void *easy;         /* CURL * */
	char *base;         /* URL without trailing '/' */
	char *key;
	long timeout_s;
};

struct remote_resp {
	long status;        /* HTTP status; 0: the request did not complete */
	char *raw;          /* body bytes (NUL-terminated), malloc'd */
	size_t rawlen;
	json_t *body;       /* parsed body or NULL */
	int replayed;       /* Idempotency-Replayed: true */
	char neterr[512];   /* transport failure text when status == 0 */
	/* decoded error envelope (NULL when absent) */
	const char *err_code, *err_message, *err_field, *err_rule;
	json_t *err_violations;
	int err_retryable;  /* error.retryable is true */
};

/* url/key: NULL falls back to HERALD_URL / HERALD_API_KEY.  0, or -1 with a
 * message in err (no URL, no key, curl init failure). */
int remote_open(struct remote *r, const char *url, const char *key, char *err, size_t errlen);
void remote_close(struct remote *r);

/* method "GET"/"POST"/...; path starts with "/".  body may be NULL.
 * idem_key: NULL or an Idempotency-Key header value.  Always fills out (free
 * with remote_resp_free); returns 0 when an HTTP response arrived (any
 * status), -1 on transport failure. */
int remote_call(struct remote *r, const char *method, const char *path, json_t *body,
		const char *idem_key, struct remote_resp *out);
/* POST /v1/media as multipart/form-data, field "file"; idem_key as above. */
int remote_upload(struct remote *r, const char *file, const char *idem_key, struct remote_resp *out);
void remote_resp_free(struct remote_resp *resp);

/* Many requests with up to `parallel` in flight (curl multi, one kept-alive
 * connection per slot).  make(ud, i, job) fills request i (job->body and
 * job->path_owned are malloc'd and freed by the runner); done(ud, i, resp)
 * sees its response (resp freed after).  429, 503, 409
 * idempotency_in_progress, transport failures and 5xx answers whose envelope
 * says retryable are sent again (same request,
 * same Idempotency-Key) after Retry-After or a pause, a bounded number of
 * times.  Returns 0, or -1 when make failed. */
struct remote_job {
	const char *method;
	const char *path;
	char *path_owned;   /* optional, freed */
	char *body;         /* JSON text, freed */
	const char *idem;   /* Idempotency-Key or NULL; must outlive the run */
};
typedef int (*remote_job_fn)(void *ud, size_t i, struct remote_job *job);
typedef void (*remote_done_fn)(void *ud, size_t i, struct remote_resp *resp);
int remote_run_many(struct remote *r, size_t n, int parallel, remote_job_fn make, remote_done_fn done,
		    void *ud);

/* Decode resp->body's error envelope into the err_* fields. */
void remote_decode_error(struct remote_resp *resp);
/* The exit code for a response (0 for 2xx). */
int remote_exit_code(const struct remote_resp *resp);
/* "herald CMD: error CODE: message (field F, rule R)" and every violation. */
void remote_print_error(const char *cmd, const struct remote_resp *resp, FILE *f);
/* Print every violation of an array, one per line, with a prefix. */
void remote_print_violations(json_t *violations, const char *prefix, FILE *f);
/* percent-encode s for a URL query/path segment into a malloc'd string */
char *remote_escape(const char *s);

#endif
