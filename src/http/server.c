#include "server.h"
#include "stream.h"
#include "../core/metrics.h"
#include "../core/arena.h"
#include "../core/ids.h"
#include "../core/log.h"
#include "../core/timeutil.h"
#include "../core/workq.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

struct loop {
	int index;
	struct event_base *base;
	struct evhttp *http;
	int fd;
	void *ctx;
	pthread_t thread;
	const struct http_server_opts *o;
};

static struct loop *loops;
static int nloops;
static struct event_base *main_base;

/* evhttp refuses bodies over its own limit with a bare HTML 413; we keep
 * that limit well above max_body so that ordinary oversize bodies reach the
 * handler and get the JSON envelope, while a hostile multi-GB body is still
 * cut off by evhttp before it is buffered. */
#define HARD_BODY_FACTOR 8

static int parse_listen(const char *spec, char *host, size_t hl, char *port, size_t pl)
{
	const char *colon = strrchr(spec, ':');
	if (!colon)
		return -1;
	size_t n = (size_t)(colon - spec);
	if (spec[0] == '[' && n >= 2 && spec[n - 1] == ']') {
		spec++;
		n -= 2;
	}
	if (n >= hl || strlen(colon + 1) >= pl || !colon[1])
		return -1;
	memcpy(host, spec, n);
	host[n] = 0;
	snprintf(port, pl, "%s", colon + 1);
	return 0;
}

static int bind_socket(const char *addr, int *port_io, int reuseport, char *err, size_t errlen)
{
	char host[256], port[16];
	if (parse_listen(addr, host, sizeof(host), port, sizeof(port))) {
		snprintf(err, errlen, "listen address '%s' is not host:port", addr);
		return -1;
	}
	if (*port_io > 0)
		snprintf(port, sizeof(port), "%d", *port_io);
	struct addrinfo hints = {0}, *res = NULL;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "cannot resolve %s: %s", addr, gai_strerror(rc));
		return -1;
	}
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		freeaddrinfo(res);
		return -1;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 1024)) {
		snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(errno));
		close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	*port_io = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						  : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

static enum http_method map_method(enum evhttp_cmd_type t, const char **name)
{
	switch (t) {
	case EVHTTP_REQ_GET: *name = "GET"; return HM_GET;
	case EVHTTP_REQ_POST: *name = "POST"; return HM_POST;
	case EVHTTP_REQ_PUT: *name = "PUT"; return HM_PUT;
	case EVHTTP_REQ_PATCH: *name = "PATCH"; return HM_PATCH;
	case EVHTTP_REQ_DELETE: *name = "DELETE"; return HM_DELETE;
	case EVHTTP_REQ_HEAD: *name = "HEAD"; return HM_HEAD;
	case EVHTTP_REQ_OPTIONS: *name = "OPTIONS"; return HM_OPTIONS;
	case EVHTTP_REQ_TRACE: *name = "TRACE"; return HM_OTHER;
	case EVHTTP_REQ_CONNECT: *name = "CONNECT"; return HM_OTHER;
	default: *name = "OTHER"; return HM_OTHER;
	}
}

static int request_id_ok(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++) {
		unsigned char c = (unsigned char)s[n];
		if (n >= 60 || c <= 0x20 || c >= 0x7f || c == '"' || c == '\\')
			return 0;
	}
	return n > 0;
}

const char *http_header(struct http_req *r, const char *name)
{
	if (r->cap)
		return evhttp_find_header(r->cap->in, name);
	return evhttp_find_header(evhttp_request_get_input_headers(r->ev), name);
}

void http_add_header(struct http_req *r, const char *name, const char *value)
{
	if (r->cap) {
		evhttp_add_header(r->cap->out, name, value);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(r->ev), name, value);
}

static void free_kv(void *p)
{
	evhttp_clear_headers(p);
}

const char *http_method_name(enum http_method m)
{
	switch (m) {
	case HM_GET: return "GET";
	case HM_POST: return "POST";
	case HM_PUT: return "PUT";
	case HM_PATCH: return "PATCH";
	case HM_DELETE: return "DELETE";
	case HM_HEAD: return "HEAD";
	case HM_OPTIONS: return "OPTIONS";
	default: return "OTHER";
	}
}

static struct evkeyvalq *new_kv(struct arena *a)
{
	struct evkeyvalq *q = arena_alloc(a, sizeof(*q));
	TAILQ_INIT(q);
	arena_defer(a, free_kv, q);
	return q;
}

struct http_req *http_req_captured(struct arena *a, enum http_method m, const char *path,
				   const char *query, const char *body, size_t len,
				   const char *request_id, void *loop_ctx, int loop_index,
				   struct event_base *base)
{
	struct http_req *r = arena_alloc(a, sizeof(*r));
	r->a = a;
	r->base = base;
	r->start_us = mono_us();
	r->loop_ctx = loop_ctx;
	r->loop_index = loop_index;
	r->method = m;
	r->method_name = http_method_name(m);
	snprintf(r->request_id, sizeof(r->request_id), "%s", request_id);
	r->path = arena_strdup(a, path);
	/* raw_path only feeds messages and the log: encode what a client
	 * would have had to send */
	char *enc = evhttp_uriencode(path, -1, 0);
	r->raw_path = enc ? arena_strdup(a, enc) : r->path;
	free(enc);
	/* evhttp_uriencode also encodes '/': put the separators back */
	for (char *s; (s = strstr(r->raw_path, "%2F"));) {
		*s = '/';
		memmove(s + 1, s + 3, strlen(s + 3) + 1);
	}
	r->query = query ? arena_strdup(a, query) : NULL;
	r->body = body ? arena_strndup(a, body, len) : "";
	r->body_len = body ? len : 0;
	r->cap = arena_alloc(a, sizeof(*r->cap));
	r->cap->in = new_kv(a);
	r->cap->out = new_kv(a);
	return r;
}

void http_req_set_header(struct http_req *r, const char *name, const char *value)
{
	if (r->cap)
		evhttp_add_header(r->cap->in, name, value);
}

const char *http_reply_header(struct http_req *r, const char *name)
{
	return r->cap ? evhttp_find_header(r->cap->out, name) : NULL;
}

const char *http_query_param(struct http_req *r, const char *name)
{
	if (!r->query)
		return NULL;
	/* parsed once per request; the list is cleared with the arena */
	if (!r->qparsed) {
		struct evkeyvalq *q = arena_alloc(r->a, sizeof(*q));
		TAILQ_INIT(q);
		if (evhttp_parse_query_str(r->query, q) == 0)
			arena_defer(r->a, free_kv, q);
		else
			TAILQ_INIT(q);
		r->qparsed = q;
	}
	return evhttp_find_header(r->qparsed, name);
}

static void access_log(struct http_req *r, size_t bytes)
{
	int64_t us = mono_us() - r->start_us;
	json_t *o = json_object();
	char ts[32];
	iso_format(now_ms(), ts);
	json_object_set_new(o, "ts", json_string(ts));
	json_object_set_new(o, "event", json_string("access"));
	json_object_set_new(o, "requestId", json_string(r->request_id));
	json_object_set_new(o, "method", json_string(r->method_name));
	json_object_set_new(o, "path", json_string(r->raw_path ? r->raw_path : "?"));
	if (r->route)
		json_object_set_new(o, "route", json_string(r->route));
	json_object_set_new(o, "status", json_integer(r->status));
	if (r->via)
		json_object_set_new(o, "via", json_string(r->via));
	json_object_set_new(o, "bytes", json_integer((json_int_t)bytes));
	json_object_set_new(o, "us", json_integer(us));
	if (r->org_id)
		json_object_set_new(o, "org", json_string(r->org_id));
	char *s = json_dumps(o, JSON_COMPACT);
	if (s)
		log_json_line(s);
	free(s);
	json_decref(o);
}

static void capture_reply(struct http_req *r, int status, const char *content_type,
			  const char *body, size_t len)
{
	struct http_capture *cap = r->cap;
	if (cap->done)
		return;
	r->status = status;
	cap->status = status;
	cap->content_type = arena_strdup(r->a, content_type);
	cap->body = body ? arena_strndup(r->a, body, len) : "";
	cap->len = body ? len : 0;
	cap->done = 1;
	if (content_type)
		evhttp_add_header(cap->out, "Content-Type", content_type);
	evhttp_add_header(cap->out, "X-Request-Id", r->request_id);
	/* an in-process call is an API request all the same: log it */
	if (loops && loops[r->loop_index].o->access_log)
		access_log(r, len);
	if (cap->on_reply)
		cap->on_reply(r, cap->arg);
	if (r->deferred) /* as for network requests: the reply frees the arena */
		arena_free(r->a);
}

static void on_deferred_close(struct evhttp_connection *conn, void *arg)
{
	(void)conn;
	struct http_req *r = arg;
	/* evhttp frees the request with its connection: never touch it again */
	r->gone = 1;
	r->ev = NULL;
}

void http_defer(struct http_req *r)
{
	r->deferred = 1;
	if (r->cap)
		return; /* no connection to watch */
	struct evhttp_connection *conn = evhttp_request_get_connection(r->ev);
	if (conn)
		evhttp_connection_set_closecb(conn, on_deferred_close, r);
}

void http_reply(struct http_req *r, int status, const char *content_type, const char *body,
		size_t len)
{
	if (r->cap) {
		capture_reply(r, status, content_type, body, len);
		return;
	}
	if (r->deferred) {
		if (!r->gone) {
			struct evhttp_connection *conn = evhttp_request_get_connection(r->ev);
			if (conn)
				evhttp_connection_set_closecb(conn, NULL, NULL);
		}
		if (r->gone) {
			r->status = status;
			metrics_http(r->route, status);
			if (loops && loops[r->loop_index].o->access_log)
				access_log(r, 0);
			arena_free(r->a);
			return;
		}
	}
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
	if (content_type)
		evhttp_add_header(h, "Content-Type", content_type);
	evhttp_add_header(h, "X-Request-Id", r->request_id);
	struct evbuffer *b = evbuffer_new();
	if (body && len && r->method != HM_HEAD)
		evbuffer_add(b, body, len);
	r->status = status;
	const char *reason = NULL;
	switch (status) {
	case 200: reason = "OK"; break;
	case 201: reason = "Created"; break;
	case 202: reason = "Accepted"; break;
	case 204: reason = "No Content"; break;
	case 400: reason = "Bad Request"; break;
	case 401: reason = "Unauthorized"; break;
	case 403: reason = "Forbidden"; break;
	case 404: reason = "Not Found"; break;
	case 405: reason = "Method Not Allowed"; break;
	case 406: reason = "Not Acceptable"; break;
	case 409: reason = "Conflict"; break;
	case 413: reason = "Payload Too Large"; break;
	case 415: reason = "Unsupported Media Type"; break;
	case 422: reason = "Unprocessable Entity"; break;
	case 429: reason = "Too Many Requests"; break;
	case 500: reason = "Internal Server Error"; break;
	case 503: reason = "Service Unavailable"; break;
	default: reason = "Status"; break;
	}
	evhttp_send_reply(r->ev, status, reason, b);
	evbuffer_free(b);
	metrics_http(r->route, status);
	if (loops && loops[r->loop_index].o->access_log)
		access_log(r, len);
	if (r->deferred)
		arena_free(r->a);
}

int http_body_each(struct http_req *r, int (*fn)(void *u, const char *p, size_t n), void *u)
{
	if (!r->body_in)
		return r->body_len ? fn(u, r->body, r->body_len) : 0;
	struct evbuffer_ptr pos;
	evbuffer_ptr_set(r->body_in, &pos, 0, EVBUFFER_PTR_SET);
	for (;;) {
		struct evbuffer_iovec v[16];
		int n = evbuffer_peek(r->body_in, -1, &pos, v, 16);
		if (n <= 0)
			return 0;
		int k = n < 16 ? n : 16;
		size_t adv = 0;
		for (int i = 0; i < k; i++) {
			if (v[i].iov_len) {
				int rc = fn(u, v[i].iov_base, v[i].iov_len);
				if (rc)
					return rc;
			}
			adv += v[i].iov_len;
		}
		/* with len -1, evbuffer_peek fills at most 16 and reports only
		 * what it filled: go on until a peek comes back short */
		if (n < 16)
			return 0;
		if (evbuffer_ptr_set(r->body_in, &pos, adv, EVBUFFER_PTR_ADD))
			return 0;
	}
}

void http_reply_file(struct http_req *r, int status, const char *content_type, int fd,
		     int64_t off, int64_t len)
{
	if (r->deferred) {
		if (!r->gone) {
			struct evhttp_connection *conn = evhttp_request_get_connection(r->ev);
			if (conn)
				evhttp_connection_set_closecb(conn, NULL, NULL);
		}
		if (r->gone) {
			close(fd);
			arena_free(r->a);
			return;
		}
	}
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
	if (content_type)
		evhttp_add_header(h, "Content-Type", content_type);
	evhttp_add_header(h, "X-Request-Id", r->request_id);
	struct evbuffer *b = evbuffer_new();
	if (r->method != HM_HEAD && len > 0) {
		if (evbuffer_add_file(b, fd, off, len))
			close(fd);
	} else {
		close(fd);
		if (r->method == HM_HEAD) {
			char cl[32];
			snprintf(cl, sizeof(cl), "%lld", (long long)len);
			evhttp_add_header(h, "Content-Length", cl);
		}
	}
	r->status = status;
	const char *reason = status == 206 ? "Partial Content" : status == 304 ? "Not Modified"
			   : status == 416 ? "Range Not Satisfiable" : "OK";
	evhttp_send_reply(r->ev, status, reason, b);
	evbuffer_free(b);
	if (loops && loops[r->loop_index].o->access_log)
		access_log(r, (size_t)len);
	if (r->deferred)
		arena_free(r->a);
}

/* evhttp's bufferevent for a new connection: the framing filter */
static struct bufferevent *stream_bevcb(struct event_base *base, void *arg)
{
	struct loop *l = arg;
	return stream_bev_new(base, l->o->stream, l->o->arg, l->ctx);
}

static void on_request(struct evhttp_request *ev, void *arg)
{
	struct loop *l = arg;
	struct http_req *r;
	struct arena *a = arena_new();
	r = arena_alloc(a, sizeof(*r));
	r->a = a;
	r->ev = ev;
	r->start_us = mono_us();
	r->loop_ctx = l->ctx;
	r->loop_index = l->index;
	r->method = map_method(evhttp_request_get_command(ev), &r->method_name);

	const char *rid = evhttp_find_header(evhttp_request_get_input_headers(ev), "X-Request-Id");
	if (rid && request_id_ok(rid)) {
		snprintf(r->request_id, sizeof(r->request_id), "%s", rid);
	} else {
		char u[ULID_LEN + 1];
		ulid_new(u);
		snprintf(r->request_id, sizeof(r->request_id), "req_%s", u);
	}

	const char *uri = evhttp_request_get_uri(ev);
	const char *q = strchr(uri, '?');
	size_t plen = q ? (size_t)(q - uri) : strlen(uri);
	r->raw_path = arena_strndup(a, uri, plen);
	if (q)
		r->query = arena_strdup(a, q + 1);
	size_t dlen = 0;
	char *dec = evhttp_uridecode(r->raw_path, 0, &dlen);
	if (dec) {
		r->path = strlen(dec) == dlen ? arena_strdup(a, dec) : NULL; /* NUL inside: reject */
		free(dec);
	}

	struct evbuffer *in = evhttp_request_get_input_buffer(ev);
	size_t blen = evbuffer_get_length(in);
	r->body_total = blen;
	if (blen > l->o->max_body) {
		r->body_too_large = 1;
		r->body = "";
		r->body_in = in;
	} else {
		char *body = arena_alloc(a, blen + 1);
		evbuffer_remove(in, body, blen);
		body[blen] = 0;
		r->body = body;
		r->body_len = blen;
	}
	if (l->o->stream && evhttp_find_header(evhttp_request_get_input_headers(ev), "X-Herald-Stream")) {
		r->stream = stream_claim(ev);
		if (r->stream)
			arena_defer(a, l->o->stream->free, r->stream);
	}
	r->base = l->base;
	l->o->handler(r);
	if (!r->deferred)
		arena_free(a);
}

static void *loop_main(void *arg)
{
	struct loop *l = arg;
	sigset_t set;
	sigfillset(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	event_base_dispatch(l->base);
	return NULL;
}

static const struct http_server_opts *cur_opts;
static struct event *drain_timer;
static int64_t drain_deadline;

static void on_drain(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	int busy = cur_opts->busy ? cur_opts->busy(cur_opts->arg) : 0;
	if (!busy || mono_us() >= drain_deadline) {
		if (busy)
			log_msg(LOG_WARN, "shutdown", "%d publishes still in flight; leaving them to recovery",
				busy);
		http_stop();
	}
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	if (drain_timer) {
		/* a second signal: stop now */
		http_stop();
		return;
	}
	log_msg(LOG_INFO, "shutdown", "signal %d: stopping", (int)sig);
	if (cur_opts->on_stop)
		cur_opts->on_stop(cur_opts->arg);
	drain_deadline = mono_us() + (int64_t)cur_opts->drain_s * 1000000;
	drain_timer = event_new(main_base, -1, EV_PERSIST, on_drain, NULL);
	struct timeval tv = {0, 50000};
	event_add(drain_timer, &tv);
	on_drain(-1, 0, NULL);
}

void http_stop(void)
{
	for (int i = 0; i < nloops; i++)
		if (loops[i].base)
			event_base_loopexit(loops[i].base, NULL);
	if (main_base)
		event_base_loopexit(main_base, NULL);
}

int http_serve(const struct http_server_opts *o, char *err, size_t errlen)
{
	int rc = -1;
	evthread_use_pthreads();
	signal(SIGPIPE, SIG_IGN);
	nloops = o->threads > 0 ? o->threads : 1;
	loops = xcalloc((size_t)nloops, sizeof(*loops));
	/* SO_REUSEPORT would also let a second herald share the port and take
	 * half the connections: probe with a plain bind first so that a port in
	 * use is refused, then bind one SO_REUSEPORT socket per loop to it */
	int port = 0;
	int probe = bind_socket(o->listen, &port, 0, err, errlen);
	if (probe < 0)
		goto out;
	close(probe);
	for (int i = 0; i < nloops; i++) {
		struct loop *l = &loops[i];
		l->index = i;
		l->o = o;
		l->fd = -1;
		l->fd = bind_socket(o->listen, &port, 1, err, errlen);
		if (l->fd < 0)
			goto out;
		l->base = event_base_new();
		l->http = evhttp_new(l->base);
		if (!l->base || !l->http) {
			snprintf(err, errlen, "cannot create event loop");
			goto out;
		}
		/* evhttp 2.1 buffers a whole body before the handler runs; uploads
		 * are streamed past it (stream.h), so its cap only has to admit
		 * ordinary bodies a little over max_body (they get the envelope) */
		evhttp_set_max_body_size(l->http, (ev_ssize_t)(o->max_body * HARD_BODY_FACTOR));
		if (o->stream)
			evhttp_set_bevcb(l->http, stream_bevcb, l);
		evhttp_set_max_headers_size(l->http, 64 * 1024);
		evhttp_set_timeout(l->http, o->timeout_s);
		/* every method libevent knows reaches the handler, which answers
		 * 405 with the envelope (libevent's own refusal is bare HTML) */
		evhttp_set_allowed_methods(l->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
							   EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE |
							   EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS |
							   EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT);
		evhttp_set_gencb(l->http, on_request, l);
		if (!evhttp_accept_socket_with_handle(l->http, l->fd)) {
			snprintf(err, errlen, "cannot accept on socket");
			goto out;
		}
		l->fd = -1; /* owned by evhttp now */
		if (o->loop_init) {
			l->ctx = o->loop_init(i, l->base, o->arg);
			if (!l->ctx) {
				snprintf(err, errlen, "loop %d failed to initialise", i);
				goto out;
			}
		}
	}
	cur_opts = o;
	main_base = event_base_new();
	struct event *sigterm = evsignal_new(main_base, SIGTERM, on_signal, NULL);
	struct event *sigint = evsignal_new(main_base, SIGINT, on_signal, NULL);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	if (o->on_ready)
		o->on_ready(port, o->arg);
	for (int i = 0; i < nloops; i++)
		pthread_create(&loops[i].thread, NULL, loop_main, &loops[i]);
	event_base_dispatch(main_base);
	http_stop();
	for (int i = 0; i < nloops; i++)
		pthread_join(loops[i].thread, NULL);
	/* the loops are gone: no task can come back to them, and loop_fini
	 * below frees what a task in hand may still be working on */
	workq_stop();
	event_free(sigterm);
	event_free(sigint);
	if (drain_timer)
		event_free(drain_timer);
	drain_timer = NULL;
	rc = 0;
out:
	for (int i = 0; i < nloops; i++) {
		struct loop *l = &loops[i];
		if (l->ctx && o->loop_fini)
			o->loop_fini(l->ctx, o->arg);
		if (l->http)
			evhttp_free(l->http);
		if (l->base)
			event_base_free(l->base);
		if (l->fd >= 0)
			close(l->fd);
	}
	if (main_base)
		event_base_free(main_base);
	main_base = NULL;
	free(loops);
	loops = NULL;
	nloops = 0;
	return rc;
}
