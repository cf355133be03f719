/*
 * media_fetch: POST /public/v1/upload-from-url and /v1/media/from-url.
 *
 * The handler defers its reply (api_defer) and fetches on the loop's
 * outbound client.  SSRF guard: http/https only; every address a socket is
 * about to connect to is checked (ssrf.h) at connect time, which pins the
 * connection to the address that was checked; redirects are not followed
 * by curl but here, one hop at a time (at most MAX_HOPS), each new URL
 * checked again.  The body streams into a temporary file while hashed,
 * bounded by HERALD_MAX_UPLOAD, and the whole fetch by HERALD_FETCH_TIMEOUT.
 * Then it is the same pipeline as an upload (media_ingest).
 *
 * Ownership: struct fetch lives in the call's arena, alive until the reply.
 */
#include "api.h"
#include "media_int.h"
#include "../core/arena.h"
#include "../core/config.h"
#include "../core/log.h"
#include "../core/timeutil.h"
#include "../http/client.h"
#include "../media/media.h"
#include "../media/ssrf.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_HOPS 5
#define MAX_URL 2048

struct fetch {
	struct call *c;
	const char *orig_url, *url;
	int hops;
	int fd;
	char *tmp;
	crypto_hash_sha256_state hs;
	int64_t bytes, cap, deadline;
	int allow_private, refused, too_big, io_error;
	const char *allow_cidrs;
	char refused_ip[INET6_ADDRSTRLEN];
	const char *headers[3];
};

static int fetch_data(void *arg, const char *p, size_t n)
{
	struct fetch *f = arg;
	if (f->bytes + (int64_t)n > f->cap) {
		f->too_big = 1;
		return 1;
	}
	f->bytes += (int64_t)n;
	crypto_hash_sha256_update(&f->hs, (const unsigned char *)p, n);
	size_t off = 0;
	while (off < n) {
		ssize_t k = write(f->fd, p + off, n - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			f->io_error = 1;
			return 1;
		}
		off += (size_t)k;
	}
	return 0;
}

static int fetch_sock_check(void *arg, const struct sockaddr *sa, unsigned len)
{
	struct fetch *f = arg;
	if (!ssrf_refuse(sa, len, f->allow_private, f->allow_cidrs, f->refused_ip, sizeof(f->refused_ip)))
		return 0;
	f->refused = 1;
	return 1;
}

/* Absolute http(s) URL of `ref` against `base` (NULL: ref alone), in the
 * arena; NULL when it is not one. */
static const char *check_url(struct arena *a, const char *base, const char *ref)
{
	if (strlen(ref) > MAX_URL)
		return NULL;
	CURLU *u = curl_url();
	const char *out = NULL;
	char *s = NULL, *scheme = NULL, *host = NULL;
	if (!u)
		return NULL;
	if (base && curl_url_set(u, CURLUPART_URL, base, 0))
		goto done;
	if (curl_url_set(u, CURLUPART_URL, ref, 0))
		goto done;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) || curl_url_get(u, CURLUPART_HOST, &host, 0))
		goto done;
	if (strcasecmp(scheme, "http") && strcasecmp(scheme, "https"))
		goto done;
	if (!host[0] || curl_url_get(u, CURLUPART_URL, &s, 0))
		goto done;
	out = arena_strdup(a, s);
done:
	curl_free(s);
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return out;
}

static void fetch_fail(struct fetch *f, int status413, const char *fmt, const char *detail)
{
	close(f->fd);
	unlink(f->tmp);
	f->fd = -1;
	if (status413)
		api_fail(f->c, HERR_PAYLOAD_TOO_LARGE, "url", "File is too large. (more than %lld bytes)",
			 (long long)f->cap);
	else
		api_fail(f->c, HERR_VALIDATION, "url", fmt, detail ? detail : "");
}

static void on_fetched(void *arg, const struct hresp *r);

static void start_hop(struct fetch *f)
{
	int64_t left = f->deadline - now_ms();
	if (left <= 0) {
		fetch_fail(f, 0, "Failed to fetch URL: %s", "timed out");
		return;
	}
	if (ftruncate(f->fd, 0) || lseek(f->fd, 0, SEEK_SET) < 0) {
		close(f->fd);
		unlink(f->tmp);
		api_fail_storage(f->c);
		return;
	}
	crypto_hash_sha256_init(&f->hs);
	f->bytes = 0;
	struct hreq hr = {
		.method = "GET",
		.url = f->url,
		.headers = f->headers,
		.timeout_ms = (long)left,
		.max_response = (size_t)f->cap + 65536,
		.no_reuse = 1,
		.on_data = fetch_data,
		.sock_check = fetch_sock_check,
		.hook_arg = f,
	};
	if (!f->c->hc || hclient_send(f->c->hc, &hr, on_fetched, f)) {
		close(f->fd);
		unlink(f->tmp);
		api_fail(f->c, HERR_UNAVAILABLE, NULL, "cannot start the fetch");
	}
}

static void on_fetched(void *arg, const struct hresp *r)
{
	struct fetch *f = arg;
	struct call *c = f->c;
	if (f->refused) {
		fetch_fail(f, 0, "the URL leads to a private, local or metadata address (%s); "
				 "set HERALD_FETCH_ALLOW_PRIVATE=1 to allow such fetches", f->refused_ip);
		return;
	}
	if (f->too_big) {
		fetch_fail(f, 1, NULL, NULL);
		return;
	}
	if (f->io_error) {
		close(f->fd);
		unlink(f->tmp);
		api_fail_storage(c);
		return;
	}
	if (r->curl_code) {
		fetch_fail(f, 0, "Failed to fetch URL: %s", r->error);
		return;
	}
	if (r->status >= 300 && r->status < 400 && r->status != 304) {
		char loc[MAX_URL + 1];
		if (hresp_header(r, "Location", loc, sizeof(loc))) {
			fetch_fail(f, 0, "Failed to fetch URL: %s", "a redirect without Location");
			return;
		}
		if (++f->hops > MAX_HOPS) {
			fetch_fail(f, 0, "Failed to fetch URL: %s", "more than 5 redirects");
			return;
		}
		const char *next = check_url(c->a, f->url, loc);
		if (!next) {
			fetch_fail(f, 0, "Failed to fetch URL: a redirect to %s, which is not an http(s) URL",
				   arena_strndup(c->a, loc, 200));
			return;
		}
		f->url = next;
		start_hop(f);
		return;
	}
	if (r->status < 200 || r->status >= 300) {
		fetch_fail(f, 0, "Failed to fetch URL: %s",
			   arena_printf(c->a, "HTTP %ld", r->status));
		return;
	}
	if (f->bytes == 0) {
		fetch_fail(f, 0, "Failed to fetch URL: %s", "the answer is empty");
		return;
	}
	int sync = fsync(f->fd);
	close(f->fd);
	if (sync) {
		unlink(f->tmp);
		api_fail_storage(c);
		return;
	}
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_final(&f->hs, h);
	char *hex = arena_alloc(c->a, 2 * sizeof(h) + 1);
	sodium_bin2hex(hex, 2 * sizeof(h) + 1, h, sizeof(h));
	/* the original name is the last path segment of the URL asked for */
	const char *p = f->orig_url + strcspn(f->orig_url, ":") + 3;
	p += strcspn(p, "/");
	size_t pl = strcspn(p, "?#");
	const char *seg = p;
	for (size_t i = 0; i < pl; i++)
		if (p[i] == '/')
			seg = p + i + 1;
	size_t sl = (size_t)(p + pl - seg);
	const char *name = sl && sl < 200 ? arena_strndup(c->a, seg, sl) : NULL;
	media_ingest(c, f->tmp, f->bytes, hex, name, f->orig_url);
}

void h_media_from_url(void *arg)
{
	struct call *c = arg;
	json_t *body = api_body_object(c);
	if (!body)
		return;
	const char *url;
	if (api_get_str(c, body, "url", "url", 1, &url))
		return;
	const char *abs = check_url(c->a, NULL, url);
	if (!abs) {
		api_fail(c, HERR_VALIDATION, "url", "url must be an absolute http or https URL");
		return;
	}
	struct fetch *f = arena_alloc(c->a, sizeof(*f));
	memset(f, 0, sizeof(*f));
	f->c = c;
	f->orig_url = abs;
	f->url = abs;
	f->cap = c->app->cfg->max_upload;
	f->allow_private = c->app->cfg->fetch_allow_private != 0;
	f->allow_cidrs = c->app->cfg->fetch_allow_cidrs;
	f->deadline = now_ms() + c->app->cfg->fetch_max_seconds * 1000;
	f->headers[0] = "Accept: image/*, video/*;q=0.9, */*;q=0.1";
	f->fd = media_tmp_open(c->a, &f->tmp);
	if (f->fd < 0) {
		api_fail_storage(c);
		return;
	}
	api_defer(c);
	start_hop(f);
}
