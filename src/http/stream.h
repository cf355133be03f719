/*
 * stream: HTTP/1.1 request framing in front of evhttp, so that the bodies
 * of chosen requests (uploads) reach the app as they arrive instead of
 * being buffered whole.
 *
 * libevent 2.1 hands a server request to its callback only once the body
 * is complete, and has no hook to see the body earlier.  So every
 * connection's bufferevent is a filter (evhttp_set_bevcb) whose input side
 * follows RFC 9112 framing (head; Content-Length or chunked body) exactly
 * far enough to find where each request's head and body end:
 *
 *   - an ordinary request passes through byte for byte, unchanged;
 *   - a request the app claims (ops->open returns a sink) has its body
 *     decoded and written to the sink as it arrives; evhttp is handed the
 *     head only when the body has ended, rewritten with Content-Length: 0
 *     and the marker field X-Herald-Stream, and the server attaches the
 *     sink to that request (stream_claim).  A sink that wants no more
 *     (too large, not authenticated) gets its request dispatched at once,
 *     and the rest of its body is read and dropped.
 *
 * Whatever the framing parser does not follow (a head over STREAM_MAX_HEAD,
 * obs-fold, a transfer coding other than chunked, conflicting lengths)
 * turns the connection opaque: every further byte passes through and
 * evhttp's own parser answers it, as it did before this layer existed.
 * The parser errs towards opaque so that it can never see a request
 * boundary where evhttp would not.
 *
 * Ownership: the filter owns its state and any sink until the request that
 * carries the sink is dispatched; stream_claim hands the sink to the
 * server, which frees it with ops->free.  Memory per connection is fixed
 * (the held head is at most STREAM_MAX_HEAD bytes).
 */
#ifndef HERALD_STREAM_H
#define HERALD_STREAM_H

#include <stddef.h>

struct bufferevent;
struct event_base;
struct evbuffer;
struct evhttp_request;

#define STREAM_MAX_HEAD (64 * 1024)
#define STREAM_MAX_LINE 4096 /* chunk-size line, trailer field */

/* A request head as received: method and target point into `raw`, which
 * holds the request line and the header fields (CRLF or LF line ends). */
struct http_head {
	const char *method, *target;
	size_t method_len, target_len;
	const char *raw;
	size_t raw_len;
};

/* The value of header field `name` (first occurrence, case-insensitive,
 * trimmed) copied into out; 0, or -1 when absent or longer than outlen-1. */
int http_head_field(const struct http_head *h, const char *name, char *out, size_t outlen);

struct http_stream_ops {
	/* A request head is complete.  Return a sink for its body, or NULL to
	 * let the request pass through to evhttp as usual.  *refuse = 1 with
	 * a sink: the request is dispatched at once and its body dropped (the
	 * handler answers, e.g. 401).  loop_ctx is the serving loop's. */
	void *(*open)(void *arg, void *loop_ctx, const struct http_head *h, int *refuse);
	/* Body bytes in order.  Non-zero: the sink wants no more; the request
	 * is dispatched now and the rest of its body dropped. */
	int (*write)(void *sink, const char *p, size_t n);
	/* The body has ended: error NULL when it arrived whole, else why not
	 * (a malformed chunked body).  Called at most once, before dispatch;
	 * not called for a sink that refused. */
	void (*end)(void *sink, const char *error);
	/* Release the sink (also when the connection died first). */
	void (*free)(void *sink);
};

/* Filter state of one connection (opaque). */
struct stream_conn;

/* The bufferevent evhttp_set_bevcb wants: a filter over a socket
 * bufferevent, or NULL.  ops may be NULL: then every byte passes. */
struct bufferevent *stream_bev_new(struct event_base *base, const struct http_stream_ops *ops,
				   void *arg, void *loop_ctx);
/* The sink of a request evhttp dispatched with the X-Herald-Stream
 * marker, now owned by the caller; NULL when there is none (a client
 * cannot forge one: sinks are found by the request's own connection). */
void *stream_claim(struct evhttp_request *req);

/* For tests and fuzzing: the input side of the filter on plain evbuffers,
 * without a socket.  stream_conn_new(NULL...) passes everything. */
struct stream_conn *stream_conn_new(const struct http_stream_ops *ops, void *arg, void *loop_ctx);
void stream_conn_free(struct stream_conn *s);
/* Move what can be moved from src to dst; 1 when anything was consumed. */
int stream_input(struct stream_conn *s, struct evbuffer *src, struct evbuffer *dst);
/* The sink of the last head handed out to dst (tests only; no connection
 * check).  Ownership passes to the caller. */
void *stream_conn_take(struct stream_conn *s);

#endif
