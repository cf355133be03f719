/*
 * server: the HTTP front of herald on libevent's evhttp.
 *
 * One event loop per thread (default: one per core); every loop accepts on
 * its own SO_REUSEPORT socket bound to the same address, so the kernel
 * spreads connections and no lock is taken on the request path.  Each loop
 * gets an opaque context from loop_init (the app puts its store handle
 * there), so handlers never share mutable state through this layer.
 *
 * Per request: an arena (freed when the reply has been handed to evhttp),
 * a request id (the client's X-Request-Id when it is sane, else req_<ULID>),
 * a body already bounded by max_body, and one JSON access-log line.
 * The server knows nothing about routes or JSON: it calls one handler.
 */
#ifndef HERALD_SERVER_H
#define HERALD_SERVER_H

#include <stddef.h>
#include <stdint.h>

struct arena;
struct evhttp_request;
struct event_base;
struct evkeyvalq;

enum http_method { HM_GET = 1, HM_POST, HM_PUT, HM_PATCH, HM_DELETE, HM_HEAD, HM_OPTIONS, HM_OTHER };

struct http_req {
	struct evhttp_request *ev;
	struct arena *a;
	enum http_method method;
	const char *method_name;
	char *path;       /* percent-decoded, without query */
	char *raw_path;   /* as received, without query */
	char *query;      /* raw query string or NULL */
	struct evkeyvalq *qparsed;
	const char *body; /* NUL-terminated copy in the arena */
	size_t body_len;
	int body_too_large; /* body exceeded max_body: handler must answer 413,
			     * unless it is an upload route reading body_in */
	size_t body_total;  /* bytes of the body as received */
	/* the received body, still in evhttp's buffer, when body_too_large:
	 * upload routes parse it from here in place (no second copy); valid
	 * until the handler returns */
	struct evbuffer *body_in;
	char request_id[64];
	int64_t start_us;
	int status;
	void *loop_ctx;
	int loop_index;
	struct event_base *base; /* the loop serving this request */
	int deferred;     /* the handler answers later (http_defer) */
	int gone;         /* deferred and the client went away: the reply is dropped */
	/* filled by the app for the access log */
	const char *org_id;
	const char *route;
	/* Capture mode (http_req_captured): no socket behind the request; its
	 * headers live in cap_in, the reply is recorded in *cap.  NULL for
	 * requests from the network. */
	struct http_capture *cap;
	/* The sink its body was streamed into (stream.h), when the app claimed
	 * the request's head: the body is then not in body/body_in.  Released
	 * with the arena. */
	void *stream;
	/* Who made an in-process request ("mcp"); NULL for network requests.
	 * The api layer turns it into a post's creation method. */
	const char *via;
};

/* The recorded reply of a captured request.  Strings live in the request's
 * arena.  The arena belongs to whoever created the request, who frees it
 * after the handler returned, unless the handler deferred its reply
 * (http_defer): then, as for network requests, http_reply frees it right
 * after on_reply returned, so on_reply copies out what it keeps. */
struct http_capture {
	int done;
	int status;
	const char *content_type;
	const char *body;
	size_t len;
	struct evkeyvalq *in, *out; /* request and reply headers */
	/* called once, from http_reply, after the reply is recorded */
	void (*on_reply)(struct http_req *r, void *arg);
	void *arg;
};

typedef void (*http_handler_fn)(struct http_req *req);

struct http_server_opts {
	const char *listen;  /* host:port; port 0 picks a free port */
	int threads;
	size_t max_body;
	/* bodies of requests the app claims by their head are streamed to it
	 * (stream.h: uploads); NULL: every body is buffered, up to max_body */
	const struct http_stream_ops *stream;
	int timeout_s;
	int access_log;
	void *(*loop_init)(int index, struct event_base *base, void *arg);
	void (*loop_fini)(void *loop_ctx, void *arg);
	void *arg;
	http_handler_fn handler;
	/* called once with the bound port, after every socket listens and
	 * before any request is served */
	void (*on_ready)(int port, void *arg);
	/* graceful stop: on SIGTERM/SIGINT on_stop is called, then the loops
	 * keep running until busy() is 0 or drain_s seconds have passed */
	void (*on_stop)(void *arg);
	int (*busy)(void *arg);
	int drain_s;
};

/* Runs until http_stop() or SIGTERM/SIGINT; 0 on clean stop. */
int http_serve(const struct http_server_opts *o, char *err, size_t errlen);
void http_stop(void);

const char *http_header(struct http_req *r, const char *name);
void http_add_header(struct http_req *r, const char *name, const char *value);
/* Query parameter, percent-decoded, NULL when absent. */
const char *http_query_param(struct http_req *r, const char *name);
/* The handler returns without replying: the request and its arena stay
 * alive until http_reply is called later on the same loop (which then
 * frees the arena).  If the client disconnects first, r->gone is set and
 * the eventual reply is dropped; http_reply must still be called. */
void http_defer(struct http_req *r);
/* Send `len` bytes of open file fd from `off` as the reply (sendfile where
 * the OS has it); takes ownership of fd.  Exactly once per request. */
void http_reply_file(struct http_req *r, int status, const char *content_type, int fd,
		     int64_t off, int64_t len);
/* Call fn on the body's bytes in order (from the arena copy, or in place
 * from body_in); stops at fn's first non-zero return, which it returns. */
int http_body_each(struct http_req *r, int (*fn)(void *u, const char *p, size_t n), void *u);
/* Send the reply; body is copied.  Exactly once per request.  In capture
 * mode the reply is recorded in r->cap and cap->on_reply runs. */
void http_reply(struct http_req *r, int status, const char *content_type, const char *body,
		size_t len);

/* A request made in-process (MCP tool calls run through the API this way):
 * the same struct the handlers see, with no connection.  Everything lives in
 * arena a (see struct http_capture for who frees it).  base is the loop
 * the request is served on.
 * path is decoded, without query; query is raw (percent-encoded) or NULL.
 * request_id must be printable ASCII of at most 63 bytes. */
struct http_req *http_req_captured(struct arena *a, enum http_method m, const char *path,
				   const char *query, const char *body, size_t len,
				   const char *request_id, void *loop_ctx, int loop_index,
				   struct event_base *base);
/* Set a request header of a captured request (before it is handled). */
void http_req_set_header(struct http_req *r, const char *name, const char *value);
/* A header of a captured reply, NULL when absent. */
const char *http_reply_header(struct http_req *r, const char *name);
const char *http_method_name(enum http_method m);

#endif
