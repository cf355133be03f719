#include "client.h"
#include "../core/arena.h"
#include "../core/buf.h"
#include "../core/log.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

struct hclient {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	int inflight;
};

struct xfer {
	struct hclient *c;
	CURL *easy;
	struct curl_slist *hdrs;
	struct buf body, head;
	hclient_cb cb;
	void *arg;
	char errbuf[CURL_ERROR_SIZE];
	char *req_body;
	int overflow;
	int (*on_data)(void *arg, const char *p, size_t n);
	int (*sock_check)(void *arg, const struct sockaddr *sa, unsigned len);
	void *hook_arg;
	size_t streamed, max_stream;
};

struct sockctx {
	struct event *ev;
	struct hclient *c;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void check_done(struct hclient *c)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(c->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct xfer *x = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		struct hresp r = {0};
		r.curl_code = m->data.result;
		/* our write callback refusing more bytes makes curl say "write
		 * error": the real reason is the bound */
		if (x->overflow)
			r.curl_code = CURLE_FILESIZE_EXCEEDED;
		r.error = r.curl_code ? (x->errbuf[0] ? x->errbuf : curl_easy_strerror(r.curl_code)) : NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &r.status);
		long reqsize = 0;
		curl_easy_getinfo(m->easy_handle, CURLINFO_REQUEST_SIZE, &reqsize);
		r.sent = reqsize > 0;
		double t = 0;
		curl_easy_getinfo(m->easy_handle, CURLINFO_TOTAL_TIME, &t);
		r.elapsed_ms = (long)(t * 1000);
		r.body = x->body.data ? x->body.data : "";
		r.body_len = x->body.len;
		r.headers = x->head.data ? x->head.data : "";
		curl_multi_remove_handle(c->multi, m->easy_handle);
		c->inflight--;
		x->cb(x->arg, &r);
		curl_easy_cleanup(x->easy);
		curl_slist_free_all(x->hdrs);
		buf_release(&x->body);
		buf_release(&x->head);
		free(x->req_body);
		free(x);
	}
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
	struct hclient *c = arg;
	int action = (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
	int running;
	curl_multi_socket_action(c->multi, fd, action, &running);
	check_done(c);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct hclient *c = arg;
	int running;
	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(c);
}

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	(void)e;
	struct hclient *c = userp;
	struct sockctx *sc = socketp;
	if (what == CURL_POLL_REMOVE) {
		if (sc) {
			event_free(sc->ev);
			free(sc);
			curl_multi_assign(c->multi, s, NULL);
		}
		return 0;
	}
	short kind = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0);
	if (!sc) {
		sc = xcalloc(1, sizeof(*sc));
		sc->c = c;
		curl_multi_assign(c->multi, s, sc);
	} else {
		event_free(sc->ev);
	}
	sc->ev = event_new(c->base, s, kind, on_event, c);
	event_add(sc->ev, NULL);
	return 0;
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	(void)m;
	struct hclient *c = userp;
	if (timeout_ms < 0) {
		evtimer_del(c->timer);
		return 0;
	}
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	evtimer_add(c->timer, &tv);
	return 0;
}

struct hclient *hclient_new(struct event_base *base)
{
	pthread_once(&curl_once, curl_init_once);
	struct hclient *c = xcalloc(1, sizeof(*c));
	c->base = base;
	c->multi = curl_multi_init();
	c->timer = evtimer_new(base, on_timeout, c);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 128L);
	return c;
}

void hclient_free(struct hclient *c)
{
	if (!c)
		return;
	curl_multi_cleanup(c->multi);
	event_free(c->timer);
	free(c);
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	if (x->on_data) {
		x->streamed += size * n;
		if (x->streamed > x->max_stream) {
			x->overflow = 1;
			return 0;
		}
		return x->on_data(x->hook_arg, p, size * n) ? 0 : size * n;
	}
	if (buf_add(&x->body, p, size * n)) {
		x->overflow = 1;
		return 0; /* aborts the transfer */
	}
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	if (buf_add(&x->head, p, size * n))
		return 0;
	return size * n;
}

static curl_socket_t open_checked(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct xfer *x = arg;
	if (purpose != CURLSOCKTYPE_IPCXN ||
	    x->sock_check(x->hook_arg, &a->addr, (unsigned)a->addrlen))
		return CURL_SOCKET_BAD;
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

int hclient_send(struct hclient *c, const struct hreq *r, hclient_cb cb, void *arg)
{
	struct xfer *x = xcalloc(1, sizeof(*x));
	x->c = c;
	x->cb = cb;
	x->arg = arg;
	buf_init(&x->body, r->max_response ? r->max_response : 1 << 20);
	buf_init(&x->head, 64 * 1024);
	x->easy = curl_easy_init();
	if (!x->easy) {
		free(x);
		return -1;
	}
	CURL *e = x->easy;
	curl_easy_setopt(e, CURLOPT_URL, r->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->timeout_ms > 0 ? r->timeout_ms : 30000L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_USERAGENT, "herald/0.1");
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
	if (r->on_data) {
		x->on_data = r->on_data;
		x->hook_arg = r->hook_arg;
		x->max_stream = r->max_response ? r->max_response : 1 << 20;
	}
	if (r->sock_check) {
		x->sock_check = r->sock_check;
		x->hook_arg = r->hook_arg;
		curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_checked);
		curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, x);
		curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
		/* a checked address must not be reused for another host */
		curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	}
	if (r->no_reuse) {
		curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	}
	if (r->body) {
		x->req_body = xmalloc(r->body_len + 1);
		memcpy(x->req_body, r->body, r->body_len);
		x->req_body[r->body_len] = 0;
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->req_body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)r->body_len);
	} else if (!strcmp(r->method, "GET")) {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	}
	/* curl adds "Expect: 100-continue" to larger bodies; platforms gain nothing from it */
	x->hdrs = curl_slist_append(x->hdrs, "Expect:");
	for (const char *const *h = r->headers; h && *h; h++)
		x->hdrs = curl_slist_append(x->hdrs, *h);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
	if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
		curl_easy_cleanup(e);
		curl_slist_free_all(x->hdrs);
		free(x->req_body);
		free(x);
		return -1;
	}
	c->inflight++;
	return 0;
}

int hclient_inflight(const struct hclient *c)
{
	return c->inflight;
}

int hresp_header(const struct hresp *r, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	const char *p = r->headers;
	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t ll = eol ? (size_t)(eol - p) : strlen(p);
		if (ll > nl && !strncasecmp(p, name, nl) && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			size_t vl = (size_t)(p + ll - v);
			while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' ' || v[vl - 1] == '\t'))
				vl--;
			if (vl >= outlen)
				vl = outlen - 1;
			memcpy(out, v, vl);
			out[vl] = 0;
			return 0;
		}
		p = eol ? eol + 1 : NULL;
	}
	return -1;
}
