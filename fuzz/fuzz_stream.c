/*
 * fuzz_stream: the HTTP framing filter in front of evhttp (src/http/stream.c)
 * on arbitrary connection bytes.
 *
 * The first input byte picks the mode: bit 0 claims every POST (a sink per
 * request, as the upload routes do), bit 1 refuses at open (401 before the
 * body), bit 2 makes sinks refuse after a few bytes (413 mid-body); its
 * high bits pick a split step.
 *
 * Oracles: no sanitizer report; without claims the bytes evhttp sees are the
 * input exactly, byte for byte (the filter must never alter ordinary
 * traffic); with claims, what evhttp sees and what every sink receives are
 * the same whether the bytes arrive in one piece, one byte at a time or in
 * fuzzer-chosen steps (TCP splits anywhere).
 */
#include "http/stream.h"

#include <event2/buffer.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MAX (1 << 17)

struct rec {
	char out[LOG_MAX];  /* bytes handed to evhttp */
	size_t nout;
	size_t pending;      /* out[pending..nout) was never handed over */
	char sinks[LOG_MAX]; /* every sink's events and bytes */
	size_t nsinks;
	int opened;
	int overflow;
};

struct sink {
	struct rec *r;
	int id;
	size_t seen;
};

static int mode;

static void put(char *buf, size_t *n, struct rec *r, const void *p, size_t k)
{
	if (*n + k > LOG_MAX) {
		r->overflow = 1;
		return;
	}
	memcpy(buf + *n, p, k);
	*n += k;
}

static void slog(struct rec *r, const char *fmt, int id)
{
	char b[64];
	int k = snprintf(b, sizeof(b), fmt, id);
	put(r->sinks, &r->nsinks, r, b, (size_t)k);
}

static void *s_open(void *arg, void *loop_ctx, const struct http_head *h, int *refuse)
{
	(void)loop_ctx;
	struct rec *r = arg;
	if (!(mode & 1))
		return NULL;
	struct sink *s = calloc(1, sizeof(*s));
	s->r = r;
	s->id = r->opened++;
	slog(r, "<open %d ", s->id);
	put(r->sinks, &r->nsinks, r, h->target, h->target_len);
	put(r->sinks, &r->nsinks, r, ">", 1);
	if (mode & 2)
		*refuse = 1;
	return s;
}

static int s_write(void *p, const char *d, size_t n)
{
	struct sink *s = p;
	if ((mode & 4) && s->seen + n > 5) {
		/* refuse on the call that crosses 5 bytes, keeping only what
		 * fits, so the refusal point does not depend on the split */
		size_t keep = 5 - s->seen;
		put(s->r->sinks, &s->r->nsinks, s->r, d, keep);
		s->seen += keep;
		slog(s->r, "<refused %d>", s->id);
		return 1;
	}
	s->seen += n;
	put(s->r->sinks, &s->r->nsinks, s->r, d, n);
	return 0;
}

static void s_end(void *p, const char *error)
{
	struct sink *s = p;
	slog(s->r, error ? "<broken %d>" : "<end %d>", s->id);
}

static void s_free(void *p)
{
	free(p);
}

static const struct http_stream_ops ops = {s_open, s_write, s_end, s_free};

static struct rec r1, r2, r3;

static void run(struct rec *r, const uint8_t *d, size_t n, size_t step)
{
	memset(r, 0, sizeof(*r));
	struct stream_conn *s = stream_conn_new((mode & 1) ? &ops : NULL, r, NULL);
	struct evbuffer *src = evbuffer_new(), *dst = evbuffer_new();
	for (size_t off = 0; off < n; off += step) {
		evbuffer_add(src, d + off, n - off < step ? n - off : step);
		stream_input(s, src, dst);
		size_t k = evbuffer_get_length(dst);
		if (r->nout + k <= LOG_MAX) {
			evbuffer_remove(dst, r->out + r->nout, k);
			r->nout += k;
		} else {
			r->overflow = 1;
			evbuffer_drain(dst, k);
		}
		void *sink;
		while ((sink = stream_conn_take(s)))
			s_free(sink);
	}
	/* what still waits for more (an unfinished head) counts as not yet
	 * handed over, after everything that was */
	size_t k = evbuffer_get_length(src);
	r->pending = r->nout;
	if (r->nout + k <= LOG_MAX) {
		evbuffer_remove(src, r->out + r->nout, k);
		r->nout += k;
	} else {
		r->overflow = 1;
	}
	evbuffer_free(src);
	evbuffer_free(dst);
	stream_conn_free(s);
}

static int same(const struct rec *a, const struct rec *b)
{
	return a->nout == b->nout && a->pending == b->pending && !memcmp(a->out, b->out, a->nout) && a->nsinks == b->nsinks &&
	       !memcmp(a->sinks, b->sinks, a->nsinks);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 32768)
		return 0;
	mode = data[0] & 7;
	size_t step = 1 + (data[0] >> 3);
	data++;
	size--;
	run(&r1, data, size, size ? size : 1);
	if (r1.overflow)
		return 0;
	if (!(mode & 1) && (r1.nout != size || memcmp(r1.out, data, size))) {
		fprintf(stderr, "pass-through altered the bytes\n");
		abort();
	}
	/* more unclaimed sinks than the filter queues changes what it claims
	 * in one piece but not when fed piecewise (each is claimed at once) */
	if (r1.opened >= 4)
		return 0;
	run(&r2, data, size, 1);
	run(&r3, data, size, step);
	if (!same(&r1, &r2) || !same(&r1, &r3)) {
		fprintf(stderr, "split changed the outcome (mode %d)\n", mode);
		abort();
	}
	return 0;
}
