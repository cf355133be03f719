/*
 * client: outbound HTTP on the caller's libevent loop through libcurl's
 * multi interface (the socket/timer callback pattern of curl's own
 * libevent example).  One `struct hclient` per loop; callbacks run on that
 * loop's thread.  Every response body is bounded (max_response, default
 * 1 MiB): a larger answer fails the transfer instead of growing memory.
 *
 * `sent` in the response tells the engine whether any byte of the request
 * may have reached the peer: a transfer that failed before that point can
 * be retried blindly, one that failed after it has an unknown outcome.
 */
#ifndef HERALD_CLIENT_H
#define HERALD_CLIENT_H

#include <stddef.h>

struct event_base;
struct hclient;
struct sockaddr;

struct hreq {
	const char *method; /* GET, POST, PUT, DELETE ... */
	const char *url;
	const char *const *headers; /* "Name: value", NULL-terminated; may be NULL */
	const char *body;
	size_t body_len;
	long timeout_ms;    /* whole transfer; default 30000 */
	size_t max_response;
	/* a fresh connection, not reused afterwards: libcurl silently resends a
	 * request that failed on a reused connection, which for a request that
	 * is not idempotent could post twice */
	int no_reuse;
	/* Optional, for fetches of user-supplied URLs (media from-url):
	 * on_data receives the body instead of the memory buffer (non-zero
	 * aborts; max_response still bounds the total), and sock_check sees
	 * every address curl is about to connect to, after resolution, so the
	 * connection is pinned to a checked address (non-zero refuses it).
	 * With sock_check set, proxies from the environment are ignored. */
	int (*on_data)(void *arg, const char *p, size_t n);
	int (*sock_check)(void *arg, const struct sockaddr *sa, unsigned len);
	void *hook_arg;
};

struct hresp {
	int curl_code;        /* 0: an HTTP answer arrived */
	const char *error;    /* curl's message when curl_code != 0 */
	long status;
	char *body;           /* NUL-terminated, owned by the client until the callback returns */
	size_t body_len;
	char *headers;        /* raw response header block */
	int sent;             /* request bytes may have reached the peer */
	long elapsed_ms;
};

typedef void (*hclient_cb)(void *arg, const struct hresp *resp);

struct hclient *hclient_new(struct event_base *base);
void hclient_free(struct hclient *c);
/* 0 when queued (cb will be called exactly once), -1 otherwise. */
int hclient_send(struct hclient *c, const struct hreq *r, hclient_cb cb, void *arg);
int hclient_inflight(const struct hclient *c);
/* Value of a response header (case-insensitive), copied into out. */
int hresp_header(const struct hresp *r, const char *name, char *out, size_t outlen);

#endif
