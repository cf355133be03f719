/*
 * arena: a region allocator for one unit of work (an HTTP request, a CLI
 * command, one scheduler tick).
 *
 * Everything allocated from an arena lives until arena_free(); nothing is
 * freed individually.  Non-memory resources (jansson values, sqlite
 * statements, temp files) are tied to the arena with arena_defer(), and their
 * cleanups run in reverse order of registration when the arena is freed.
 *
 * Out of memory aborts the process (xmalloc): a server that cannot allocate
 * a few KB has no useful way to continue, and handling it at every call site
 * costs more clarity than it buys.
 */
#ifndef HERALD_ARENA_H
#define HERALD_ARENA_H

#include <stddef.h>
#include <stdarg.h>

struct arena;

struct arena *arena_new(void);
void arena_free(struct arena *a);

void *arena_alloc(struct arena *a, size_t n);           /* zeroed, 16-aligned */
char *arena_strdup(struct arena *a, const char *s);     /* NULL -> NULL */
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
char *arena_vprintf(struct arena *a, const char *fmt, va_list ap);

/* Run fn(p) when the arena is freed. */
void arena_defer(struct arena *a, void (*fn)(void *), void *p);

/* Bytes handed out so far (for tests and metrics). */
size_t arena_used(const struct arena *a);

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

#endif
