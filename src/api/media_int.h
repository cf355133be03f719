/*
 * media_int: helpers shared by the media route files (media.c,
 * media_fetch.c).  Not for other callers.
 */
#ifndef HERALD_MEDIA_INT_H
#define HERALD_MEDIA_INT_H

#include "api.h"
#include <stdint.h>

struct store_media;

/* The media object in the route's dialect (Postiz or native). */
json_t *media_json(struct call *c, const struct store_media *m);
/* A new temporary file in the storage's tmp directory: fd, path in arena. */
int media_tmp_open(struct arena *a, char **path);
/* Sniff, check caps, probe, store and record the finished temporary file
 * `tmp`, then reply (201 or the error), usually later: the blocking part
 * runs on a worker (core/workq.h) while the call is deferred.  tmp is consumed
 * either way; the strings must live as long as the call (c->a). */
void media_ingest(struct call *c, const char *tmp, int64_t bytes, const char *sha256,
		  const char *original_name, const char *source_url);

#endif
