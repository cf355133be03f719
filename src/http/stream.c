/*
 * stream: see stream.h.  The framing rules mirror libevent 2.1.12's own
 * (http.c: evhttp_get_body, evhttp_handle_chunked_read, evhttp_parse_headers_)
 * wherever a request passes through, so that both parsers always agree on
 * where a request ends; where they might not, the connection goes opaque.
 */
#include "stream.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <errno.h>
#include <sys/socket.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define STREAM_READY_MAX 4

enum st {
	S_HEAD,       /* waiting for a request head */
	S_BODY,       /* Content-Length body: `left` bytes to go */
	S_CHUNK_SIZE, /* chunked: a chunk-size line (empty lines skipped, as evhttp does) */
	S_CHUNK_DATA, /* chunked: `left` bytes of chunk data */
	S_TRAILER,    /* chunked: trailer fields up to the empty line */
	S_DROP_ALL,   /* refused before 100-continue: drop everything; evhttp closes */
	S_OPAQUE,     /* framing not followed: pass every byte */
};

struct stream_conn {
	const struct http_stream_ops *ops;
	void *arg, *loop_ctx;
	struct bufferevent *bev, *under; /* filter and socket (NULL without a socket) */
	struct event_base *base;
	struct event *kick;  /* runs the output side once evhttp has queued a reply */
	struct event *wev;   /* the socket is writable again */
	int werr;            /* writing failed: tell evhttp */
	enum st st;
	int64_t left;
	size_t trailer;
	/* the request whose body is being streamed */
	void *sink;          /* open: body bytes go here */
	int claimed;         /* this body belongs to a sink request (pass it nowhere) */
	int dropping;        /* its sink refused or ended: drop the rest */
	struct evbuffer *held; /* its rewritten head, until dispatch */
	char connection[64];   /* the client's Connection field, re-added at dispatch */
	/* dispatched sinks waiting for stream_claim, oldest first: evhttp
	 * takes pipelined requests in order */
	void *ready[STREAM_READY_MAX];
	int nready;
	struct stream_conn *rnext, *rprev;
};

/* connections with a dispatched sink, per loop thread: claims are made on
 * the thread that owns the connection, and this list is almost always
 * empty or one long */
static __thread struct stream_conn *ready_list;

static void ready_unlink(struct stream_conn *s)
{
	if (s->rprev)
		s->rprev->rnext = s->rnext;
	else if (ready_list == s)
		ready_list = s->rnext;
	if (s->rnext)
		s->rnext->rprev = s->rprev;
	s->rnext = s->rprev = NULL;
}

static void ready_push(struct stream_conn *s, void *sink)
{
	if (!s->nready) {
		s->rprev = NULL;
		s->rnext = ready_list;
		if (ready_list)
			ready_list->rprev = s;
		ready_list = s;
	}
	s->ready[s->nready++] = sink;
}

static void *ready_pop(struct stream_conn *s)
{
	if (!s->nready)
		return NULL;
	void *sink = s->ready[0];
	memmove(s->ready, s->ready + 1, (size_t)(s->nready - 1) * sizeof(s->ready[0]));
	if (--s->nready == 0)
		ready_unlink(s);
	return sink;
}

/* ---- head parsing ---- */

static int ieq(const char *p, size_t n, const char *lit)
{
	return strlen(lit) == n && !strncasecmp(p, lit, n);
}

/* One line of [p, end): its length without the line end, and the start
 * of the next line.  Line ends are LF or CRLF (evbuffer EOL_CRLF). */
static const char *line_of(const char *p, const char *end, size_t *len)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl) {
		*len = (size_t)(end - p);
		return end;
	}
	*len = (size_t)(nl - p) - (nl > p && nl[-1] == '\r');
	return nl + 1;
}

/* evhttp's field value: leading spaces skipped, trailing LWS trimmed. */
static void field_value(const char *v, size_t n, const char **out, size_t *outn)
{
	while (n && *v == ' ')
		v++, n--;
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
		n--;
	*out = v;
	*outn = n;
}

int http_head_field(const struct http_head *h, const char *name, char *out, size_t outlen)
{
	const char *p = h->raw, *end = h->raw + h->raw_len;
	size_t n;
	p = line_of(p, end, &n); /* request line */
	while (p < end) {
		const char *line = p;
		p = line_of(p, end, &n);
		const char *colon = memchr(line, ':', n);
		if (!colon || !ieq(line, (size_t)(colon - line), name))
			continue;
		const char *v;
		size_t vn;
		field_value(colon + 1, n - (size_t)(colon + 1 - line), &v, &vn);
		if (vn + 1 > outlen)
			return -1;
		memcpy(out, v, vn);
		out[vn] = 0;
		return 0;
	}
	return -1;
}

struct framing {
	int has_body;  /* evhttp reads a body for this method */
	int chunked;
	int64_t length;
	int expect_continue;
	int http10;
};

/* Parse a complete head (request line + fields, without the final empty
 * line); -1 when it is anything the framing rules do not follow. */
static int parse_head(const char *raw, size_t len, struct http_head *h, struct framing *f)
{
	memset(f, 0, sizeof(*f));
	memset(h, 0, sizeof(*h));
	h->raw = raw;
	h->raw_len = len;
	const char *end = raw + len, *p;
	size_t n;
	p = line_of(raw, end, &n);
	const char *sp1 = memchr(raw, ' ', n);
	if (!sp1 || sp1 == raw)
		return -1;
	const char *sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - raw));
	if (!sp2 || sp2 == sp1 + 1)
		return -1;
	h->method = raw;
	h->method_len = (size_t)(sp1 - raw);
	h->target = sp1 + 1;
	h->target_len = (size_t)(sp2 - sp1 - 1);
	const char *ver = sp2 + 1;
	size_t vlen = n - (size_t)(ver - raw);
	f->http10 = ieq(ver, vlen, "HTTP/1.0");
	/* evhttp_method_may_have_body: HEAD and TRACE never carry one (and an
	 * unknown method is refused by evhttp before any body matters) */
	f->has_body = !(ieq(h->method, h->method_len, "HEAD") || ieq(h->method, h->method_len, "TRACE"));
	int n_cl = 0, n_te = 0;
	while (p < end) {
		const char *line = p;
		p = line_of(p, end, &n);
		if (n == 0)
			return -1;
		if (line[0] == ' ' || line[0] == '\t')
			return -1; /* obs-fold: evhttp appends it to the previous field */
		const char *colon = memchr(line, ':', n);
		if (!colon)
			return -1;
		size_t kn = (size_t)(colon - line);
		const char *v;
		size_t vn;
		field_value(colon + 1, n - kn - 1, &v, &vn);
		if (ieq(line, kn, "Content-Length")) {
			if (++n_cl > 1 || vn == 0 || vn > 18)
				return -1;
			int64_t x = 0;
			for (size_t i = 0; i < vn; i++) {
				if (v[i] < '0' || v[i] > '9')
					return -1;
				x = x * 10 + (v[i] - '0');
			}
			f->length = x;
		} else if (ieq(line, kn, "Transfer-Encoding")) {
			/* evhttp knows exactly "chunked"; anything else it would
			 * frame by Content-Length: not ours to judge */
			if (++n_te > 1 || !ieq(v, vn, "chunked"))
				return -1;
			f->chunked = 1;
		} else if (ieq(line, kn, "Expect")) {
			f->expect_continue = ieq(v, vn, "100-continue");
		}
	}
	return 0;
}

/* Where the head starting at the front of src ends (after its empty
 * line): 1 found, 0 need more, -1 not a head we follow. */
static int head_end(struct evbuffer *src, size_t *head_len, size_t *fields_len)
{
	struct evbuffer_ptr pos;
	evbuffer_ptr_set(src, &pos, 0, EVBUFFER_PTR_SET);
	int first = 1;
	for (;;) {
		size_t eol = 0;
		struct evbuffer_ptr e = evbuffer_search_eol(src, &pos, &eol, EVBUFFER_EOL_CRLF);
		if (e.pos < 0)
			return evbuffer_get_length(src) > STREAM_MAX_HEAD ? -1 : 0;
		if ((size_t)e.pos + eol > STREAM_MAX_HEAD)
			return -1;
		if (e.pos == pos.pos) {
			if (first)
				return -1; /* evhttp fails an empty request line */
			*fields_len = (size_t)pos.pos;
			*head_len = (size_t)e.pos + eol;
			return 1;
		}
		first = 0;
		if (evbuffer_ptr_set(src, &pos, (size_t)e.pos + eol, EVBUFFER_PTR_SET))
			return 0;
	}
}

/* The head evhttp gets for a streamed request: the request line and the
 * fields as sent, minus the framing ones (the body is the sink's now) and
 * Connection, which dispatch adds back (or replaces by close).  Without
 * the final empty line: dispatch ends it. */
static struct evbuffer *rewrite_head(const struct http_head *h, char *connection, size_t clen)
{
	struct evbuffer *b = evbuffer_new();
	if (!b)
		return NULL;
	connection[0] = 0;
	if (http_head_field(h, "Connection", connection, clen))
		connection[0] = 0;
	const char *p = h->raw, *end = h->raw + h->raw_len;
	size_t n;
	const char *line = p;
	p = line_of(p, end, &n);
	evbuffer_add(b, line, n);
	evbuffer_add(b, "\r\n", 2);
	while (p < end) {
		line = p;
		p = line_of(p, end, &n);
		const char *colon = memchr(line, ':', n);
		size_t kn = colon ? (size_t)(colon - line) : n;
		if (ieq(line, kn, "Content-Length") || ieq(line, kn, "Transfer-Encoding") ||
		    ieq(line, kn, "Expect") || ieq(line, kn, "X-Herald-Stream") ||
		    ieq(line, kn, "Connection"))
			continue;
		evbuffer_add(b, line, n);
		evbuffer_add(b, "\r\n", 2);
	}
	static const char framing[] = "Content-Length: 0\r\nX-Herald-Stream: 1\r\n";
	evbuffer_add(b, framing, sizeof(framing) - 1);
	return b;
}

/* ---- the input filter ---- */

/* Hand the held head to evhttp; close: evhttp closes the connection after
 * its reply (the rest of this connection cannot be followed). */
static void dispatch(struct stream_conn *s, struct evbuffer *dst, int close)
{
	if (!s->held)
		return;
	if (close)
		evbuffer_add(s->held, "Connection: close\r\n", 19);
	else if (s->connection[0])
		evbuffer_add_printf(s->held, "Connection: %s\r\n", s->connection);
	evbuffer_add(s->held, "\r\n", 2);
	evbuffer_add_buffer(dst, s->held);
	evbuffer_free(s->held);
	s->held = NULL;
	ready_push(s, s->sink);
	s->sink = NULL;
	s->dropping = 1; /* whatever is left of this body goes nowhere */
}

static void body_done(struct stream_conn *s, struct evbuffer *dst, const char *error)
{
	if (s->claimed && s->held) {
		if (s->sink && !s->dropping)
			s->ops->end(s->sink, error);
		dispatch(s, dst, error != NULL);
	}
	s->claimed = 0;
	s->dropping = 0;
	s->st = error ? S_DROP_ALL : S_HEAD;
}

/* n body bytes at the front of src: to evhttp, to the sink, or nowhere. */
static void body_bytes(struct stream_conn *s, struct evbuffer *src, struct evbuffer *dst, size_t n)
{
	if (!s->claimed) {
		evbuffer_remove_buffer(src, dst, n);
		return;
	}
	size_t done = 0;
	while (done < n && s->sink && !s->dropping) {
		struct evbuffer_iovec v[8];
		struct evbuffer_ptr at;
		evbuffer_ptr_set(src, &at, done, EVBUFFER_PTR_SET);
		int k = evbuffer_peek(src, (ev_ssize_t)(n - done), &at, v, 8);
		if (k <= 0)
			break;
		for (int i = 0; i < k && i < 8 && done < n; i++) {
			size_t len = v[i].iov_len;
			if (len > n - done)
				len = n - done;
			if (s->ops->write(s->sink, v[i].iov_base, len)) {
				s->dropping = 1;
				dispatch(s, dst, 0); /* answer now; drop the rest */
				break;
			}
			done += len;
		}
	}
	evbuffer_drain(src, n);
}

static int start_request(struct stream_conn *s, struct evbuffer *src, struct evbuffer *dst)
{
	size_t head_len = 0, fields_len = 0;
	int rc = head_end(src, &head_len, &fields_len);
	if (rc == 0)
		return 0;
	struct http_head h;
	struct framing f;
	const char *raw = rc > 0 ? (const char *)evbuffer_pullup(src, (ev_ssize_t)head_len) : NULL;
	if (rc < 0 || !raw || parse_head(raw, fields_len, &h, &f)) {
		s->st = S_OPAQUE;
		return 1;
	}
	int64_t length = f.has_body && !f.chunked ? f.length : 0;
	void *sink = NULL;
	int refuse = 0;
	/* (a full queue of unclaimed sinks: deep pipelining; evhttp buffers it) */
	if (s->ops && f.has_body && s->nready < STREAM_READY_MAX)
		sink = s->ops->open(s->arg, s->loop_ctx, &h, &refuse);
	if (!sink) {
		evbuffer_remove_buffer(src, dst, head_len);
		s->claimed = 0;
	} else {
		/* a client waiting for 100-continue that is refused never sends
		 * its body, so the connection cannot be followed: close it */
		int close_after = refuse && f.expect_continue;
		s->held = rewrite_head(&h, s->connection, sizeof(s->connection));
		evbuffer_drain(src, head_len);
		if (!s->held) {
			s->ops->free(sink);
			s->st = S_DROP_ALL;
			return 1;
		}
		s->claimed = 1;
		s->dropping = 0;
		s->sink = sink;
		if (refuse) {
			dispatch(s, dst, close_after);
			if (close_after) {
				s->st = S_DROP_ALL;
				return 1;
			}
		} else if (f.expect_continue && !f.http10 && s->under) {
			/* straight to the socket: evhttp is not writing now (it
			 * has not seen this request), and 25 bytes on a socket
			 * with an empty send queue do not block */
			int fd = bufferevent_getfd(s->under);
			if (fd >= 0 && send(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25, MSG_NOSIGNAL | MSG_DONTWAIT) != 25)
				s->werr = 1;
		}
	}
	if (f.has_body && f.chunked) {
		s->st = S_CHUNK_SIZE;
	} else if (length > 0) {
		s->st = S_BODY;
		s->left = length;
	} else {
		body_done(s, dst, NULL);
	}
	return 1;
}

/* One line at the front of src (chunk size, trailer field): 1 with its
 * length (without the line end) and the bytes to consume, 0 need more,
 * -1 too long. */
static int front_line(struct evbuffer *src, size_t *len, size_t *take)
{
	size_t eol = 0;
	struct evbuffer_ptr e = evbuffer_search_eol(src, NULL, &eol, EVBUFFER_EOL_CRLF);
	if (e.pos < 0)
		/* + 1: a CR may be waiting for its LF */
		return evbuffer_get_length(src) > STREAM_MAX_LINE + 1 ? -1 : 0;
	if ((size_t)e.pos > STREAM_MAX_LINE)
		return -1;
	*len = (size_t)e.pos;
	*take = (size_t)e.pos + eol;
	return 1;
}

/* "<hex>" optionally followed by a space (evhttp's strtoll test) or a
 * chunk extension; -1 otherwise. */
static int64_t chunk_size(const char *p, size_t n)
{
	int64_t x = 0;
	size_t i = 0;
	for (; i < n; i++) {
		char ch = p[i];
		int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
			: ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
		if (d < 0)
			break;
		if (i >= 15)
			return -1;
		x = x * 16 + d;
	}
	if (i == 0 || (i < n && p[i] != ' ' && p[i] != ';' && p[i] != '\t'))
		return -1;
	return x;
}

/* A framing error inside a body: for a passed request evhttp will see it
 * and fail the connection; for a streamed one the sink is told why. */
static void framing_error(struct stream_conn *s, struct evbuffer *src, struct evbuffer *dst)
{
	if (!s->claimed) {
		s->st = S_OPAQUE;
		evbuffer_add_buffer(dst, src);
		return;
	}
	body_done(s, dst, "the chunked body is malformed");
}

static int chunk_step(struct stream_conn *s, struct evbuffer *src, struct evbuffer *dst)
{
	size_t len = 0, take = 0;
	if (s->st == S_CHUNK_DATA) {
		size_t n = evbuffer_get_length(src);
		if ((int64_t)n > s->left)
			n = (size_t)s->left;
		body_bytes(s, src, dst, n);
		s->left -= (int64_t)n;
		if (!s->left)
			s->st = S_CHUNK_SIZE;
		return 1;
	}
	int rc = front_line(src, &len, &take);
	if (rc == 0)
		return 0;
	if (rc < 0) {
		framing_error(s, src, dst);
		return 1;
	}
	if (s->st == S_TRAILER) {
		s->trailer += take;
		if (s->trailer > STREAM_MAX_HEAD) {
			framing_error(s, src, dst);
			return 1;
		}
		if (s->claimed)
			evbuffer_drain(src, take);
		else
			evbuffer_remove_buffer(src, dst, take);
		if (len == 0)
			body_done(s, dst, NULL);
		return 1;
	}
	/* S_CHUNK_SIZE: evhttp skips empty lines here (the CRLF after data) */
	int64_t size = 0;
	if (len) {
		char line[STREAM_MAX_LINE + 1];
		evbuffer_copyout(src, line, len);
		size = chunk_size(line, len);
		if (size < 0) {
			framing_error(s, src, dst);
			return 1;
		}
	}
	if (s->claimed)
		evbuffer_drain(src, take);
	else
		evbuffer_remove_buffer(src, dst, take);
	if (!len)
		return 1;
	if (size == 0) {
		s->st = S_TRAILER;
		s->trailer = 0;
	} else {
		s->st = S_CHUNK_DATA;
		s->left = size;
	}
	return 1;
}

int stream_input(struct stream_conn *s, struct evbuffer *src, struct evbuffer *dst)
{
	int any = 0;
	while (evbuffer_get_length(src)) {
		switch (s->st) {
		case S_OPAQUE:
			evbuffer_add_buffer(dst, src);
			return 1;
		case S_DROP_ALL:
			evbuffer_drain(src, evbuffer_get_length(src));
			return 1;
		case S_HEAD:
			if (!start_request(s, src, dst))
				return any;
			break;
		case S_BODY: {
			size_t n = evbuffer_get_length(src);
			if ((int64_t)n > s->left)
				n = (size_t)s->left;
			body_bytes(s, src, dst, n);
			s->left -= (int64_t)n;
			if (!s->left)
				body_done(s, dst, NULL);
			break;
		}
		case S_CHUNK_SIZE:
		case S_CHUNK_DATA:
		case S_TRAILER:
			if (!chunk_step(s, src, dst))
				return any;
			break;
		}
		any = 1;
	}
	return any;
}

/* ---- connection life ---- */

struct stream_conn *stream_conn_new(const struct http_stream_ops *ops, void *arg, void *loop_ctx)
{
	struct stream_conn *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->ops = ops;
	s->arg = arg;
	s->loop_ctx = loop_ctx;
	s->st = S_HEAD;
	return s;
}

void stream_conn_free(struct stream_conn *s)
{
	if (!s)
		return;
	if (s->sink)
		s->ops->free(s->sink);
	void *r;
	while ((r = ready_pop(s)))
		s->ops->free(r);
	if (s->held)
		evbuffer_free(s->held);
	free(s);
}

void *stream_conn_take(struct stream_conn *s)
{
	return ready_pop(s);
}

static enum bufferevent_filter_result in_filter(struct evbuffer *src, struct evbuffer *dst,
						ev_ssize_t limit, enum bufferevent_flush_mode mode,
						void *ctx)
{
	(void)limit;
	(void)mode;
	/* BEV_OK also when bytes were only consumed (a streamed body): the
	 * filter then resets the read timeout, so a slow upload that keeps
	 * moving is not cut off while a stalled one still is */
	return stream_input(ctx, src, dst) ? BEV_OK : BEV_NEED_MORE;
}

/* The output side writes evhttp's reply to the socket itself instead of
 * handing it to the socket bufferevent.  Two things in libevent 2.1's
 * filters make that necessary: a reply queued while the filter's EV_WRITE
 * is disabled (evhttp queues, then enables) is never processed, and
 * evhttp takes "the filter's output is empty" for "the reply is sent", and
 * frees a Connection: close connection then, which would cut off whatever
 * still sat in the socket bufferevent.  Written straight to the socket, an
 * empty output means the kernel has it all.  File segments still go out
 * with sendfile (evbuffer_write). */
static void on_kick(evutil_socket_t fd, short what, void *arg);

static void arm_write(struct stream_conn *s, int fd)
{
	if (!s->wev)
		s->wev = event_new(s->base, fd, EV_WRITE, on_kick, s);
	if (s->wev)
		event_add(s->wev, NULL);
}

static enum bufferevent_filter_result out_filter(struct evbuffer *src, struct evbuffer *dst,
						 ev_ssize_t limit, enum bufferevent_flush_mode mode,
						 void *ctx)
{
	(void)dst;
	(void)limit;
	(void)mode;
	struct stream_conn *s = ctx;
	int fd = bufferevent_getfd(s->under);
	if (fd < 0 || s->werr || !evbuffer_get_length(src))
		return BEV_NEED_MORE;
	int n = evbuffer_write(src, fd);
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		s->werr = 1;
		event_active(s->kick, EV_WRITE, 0);
		return BEV_ERROR;
	}
	if (evbuffer_get_length(src))
		arm_write(s, fd);
	return n > 0 ? BEV_OK : BEV_NEED_MORE;
}

/* A reply was queued, or the socket can take more: push it out.  The
 * flush may end in evhttp freeing the connection (and s): nothing after. */
static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct stream_conn *s = arg;
	if (s->werr) {
		bufferevent_trigger_event(s->bev, BEV_EVENT_ERROR | BEV_EVENT_WRITING, 0);
		return;
	}
	bufferevent_flush(s->bev, EV_WRITE, BEV_FLUSH);
}

static void on_out_added(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	(void)b;
	struct stream_conn *s = arg;
	if (info->n_added)
		event_active(s->kick, EV_WRITE, 0);
}

static void free_ctx(void *ctx)
{
	struct stream_conn *s = ctx;
	if (s->kick)
		event_free(s->kick);
	if (s->wev)
		event_free(s->wev);
	/* the filter does not own the socket bufferevent (no CLOSE_ON_FREE),
	 * so that evhttp shuts the fd down and closes it itself, in that
	 * order; this drops our reference, the filter drops its own */
	if (s->under)
		bufferevent_free(s->under);
	stream_conn_free(s);
}

struct bufferevent *stream_bev_new(struct event_base *base, const struct http_stream_ops *ops,
				   void *arg, void *loop_ctx)
{
	struct stream_conn *s = stream_conn_new(ops, arg, loop_ctx);
	if (!s)
		return NULL;
	s->base = base;
	s->kick = event_new(base, -1, 0, on_kick, s);
	s->under = bufferevent_socket_new(base, -1, 0);
	if (s->under)
		s->bev = bufferevent_filter_new(s->under, in_filter, out_filter, 0, free_ctx, s);
	if (!s->kick || !s->under || !s->bev) {
		if (s->kick)
			event_free(s->kick);
		if (s->under)
			bufferevent_free(s->under);
		free(s);
		return NULL;
	}
	evbuffer_add_cb(bufferevent_get_output(s->bev), on_out_added, s);
	return s->bev;
}

void *stream_claim(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	if (!bev)
		return NULL;
	for (struct stream_conn *s = ready_list; s; s = s->rnext)
		if (s->bev == bev)
			return stream_conn_take(s);
	return NULL;
}
