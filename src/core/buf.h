/*
 * buf: a growable byte buffer with a hard upper bound.
 *
 * Every buffer that grows from outside input (request bodies, platform
 * responses) is created with the largest size it may reach; an append past
 * the bound fails with -1 and leaves the buffer unchanged, so hostile input
 * becomes an error instead of unbounded memory.  The buffer is always
 * NUL-terminated.  buf_take() hands the storage to the caller (free()).
 */
#ifndef HERALD_BUF_H
#define HERALD_BUF_H

#include <stddef.h>

struct buf {
	char *data;
	size_t len, cap, max;
};

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
void buf_reset(struct buf *b);
int buf_add(struct buf *b, const void *p, size_t n) __attribute__((warn_unused_result));
int buf_adds(struct buf *b, const char *s) __attribute__((warn_unused_result));
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), warn_unused_result));
char *buf_take(struct buf *b);

#endif
