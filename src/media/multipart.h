/*
 * multipart: a streaming, bounded parser of multipart/form-data bodies
 * (RFC 7578 over RFC 2046).
 *
 * The body is fed in chunks of any size (mp_feed), so a caller can parse
 * straight out of an evbuffer or a socket without a contiguous copy.  Part
 * contents are handed to the callbacks as they arrive and never held here;
 * the parser's own memory is fixed (one part's header block, at most
 * MP_MAX_HEADER bytes).  Limits: MP_MAX_PARTS parts, boundary 1..70 chars.
 *
 * The parser owns nothing outside struct mp; strings passed to part_begin
 * live until the next callback.
 */
#ifndef HERALD_MULTIPART_H
#define HERALD_MULTIPART_H

#include <stddef.h>

#define MP_MAX_HEADER 8192
#define MP_MAX_PARTS 32
#define MP_MAX_BOUNDARY 70

struct mp_part {
	char name[128];
	char filename[256];
	char content_type[128];
	int has_filename;
};

struct mp_callbacks {
	/* a part's headers are complete; non-zero aborts the parse */
	int (*part_begin)(void *u, const struct mp_part *p);
	int (*part_data)(void *u, const char *data, size_t n);
	int (*part_end)(void *u);
};

enum mp_state { MP_PREAMBLE, MP_AFTER_DELIM, MP_AFTER_DELIM_DASH, MP_AFTER_DELIM_CR,
		MP_HEADERS, MP_BODY, MP_DONE, MP_ERROR };

struct mp {
	char delim[MP_MAX_BOUNDARY + 5]; /* "\r\n--" boundary */
	size_t dlen;
	size_t m;                        /* delimiter bytes matched so far */
	enum mp_state state;
	char hdr[MP_MAX_HEADER];
	size_t hlen;
	int nparts;
	const struct mp_callbacks *cb;
	void *u;
	const char *error;               /* static text when state == MP_ERROR */
};

/* Boundary parameter of a multipart/form-data Content-Type into out.
 * 0, or -1 when the type is not multipart/form-data or has no valid boundary. */
int mp_boundary(const char *content_type, char *out, size_t outlen);
/* 0, or -1 for an invalid boundary. */
int mp_init(struct mp *p, const char *boundary, const struct mp_callbacks *cb, void *u);
/* 0 while well formed (more may follow), -1 on error (p->error says why,
 * or a callback refused: p->error is then "aborted"). */
int mp_feed(struct mp *p, const char *data, size_t n);
/* 0 when the closing delimiter was seen, else -1. */
int mp_finish(struct mp *p);

#endif
