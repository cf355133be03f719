/*
 * media: facts about uploaded files and where their bytes live.
 *
 *  - sniffing: the MIME type comes from the bytes (libmagic), never from
 *    what the client declared; only the types of MEDIA_TYPES are accepted;
 *  - probing: image width/height from libvips (header only), MP4 duration
 *    and size from our own bounded box parser (mp4_probe_mem, fuzzed);
 *  - storage: one interface over a local directory (default) and, later,
 *    object storage.  Objects are named "<ulid>.<ext>" (originals) and
 *    "<ulid>.<variant>.<ext>" (derivatives); names are checked by
 *    media_name_ok so a name can never leave the storage root;
 *  - derivatives: a copy of an image re-encoded to fit a byte and pixel
 *    cap (libvips), made on first use and cached beside the original,
 *    which is never modified.
 *
 * libmagic handles are per thread (it is not thread-safe); libvips is
 * initialised once.  Everything here is blocking file work sized by the
 * configured caps.
 */
#ifndef HERALD_MEDIA_H
#define HERALD_MEDIA_H

#include <stddef.h>
#include <stdint.h>

struct arena;

#define MEDIA_IMAGE_MAX (10L * 1024 * 1024) /* Postiz's image cap */

struct media_facts {
	char mime[64];
	const char *ext;     /* static; NULL when the type is not accepted */
	int is_video;
	int width, height;   /* 0 when unknown */
	int64_t duration_ms; /* video only; 0 when unknown */
};

/* Release libvips and this thread's libmagic handle (at exit). */
void media_shutdown(void);
/* Extension for an accepted MIME type, NULL otherwise. */
const char *media_ext_for(const char *mime);
/* MIME type of the file's bytes; 0 or -1. */
int media_sniff(const char *path, char *mime, size_t mlen);
int media_sniff_mem(const void *buf, size_t n, char *mime, size_t mlen);
/* Sniff then probe: f->ext == NULL when the type is not accepted. */
int media_facts(const char *path, struct media_facts *f);

/* MP4/QuickTime: movie duration (ms) and first video track size from the
 * bytes of a whole file or of its leading part holding moov.  0 when a
 * moov/mvhd was found, -1 otherwise.  Bounded: never reads outside buf. */
int mp4_probe_mem(const unsigned char *buf, size_t n, int64_t *duration_ms, int *w, int *h);
/* Same on a file: walks top-level boxes and reads moov only (<= 64 MiB). */
int mp4_probe_file(const char *path, int64_t *duration_ms, int *w, int *h);

/* "<26 base32 chars>[.<variant>].<ext>", lowercase alphanumerics only. */
int media_name_ok(const char *name);
const char *media_mime_for_name(const char *name);

/* ---- storage ---- */
struct media_storage_cfg {
	const char *data_dir;
	const char *backend; /* "local" (default) or "s3" */
	const char *s3_endpoint, *s3_bucket, *s3_region, *s3_access_key, *s3_secret_key;
	int64_t cache_max; /* s3: bytes the local cache may hold (0: 1 GiB) */
};
/* Set up the backend from the configuration (once, before serving).  With
 * "s3" the objects live in the bucket and $data_dir/uploads is a cache of
 * what this node wrote or read, bounded by cache_max: past it the least
 * recently used files are removed (they stay in the bucket). */
int media_storage_init(const struct media_storage_cfg *sc, char *err, size_t errlen);
/* Directory for temporary files of uploads in progress. */
const char *media_tmp_dir(void);
/* Move a finished temporary file into storage under name (mime and the
 * hex SHA-256 of its bytes go with it to object storage). */
int media_put_file(const char *tmp_path, const char *name, const char *mime, const char *sha256);
/* Open a stored object for reading: fd and size (local backend). */
int media_open(const char *name, int *fd, int64_t *size);
/* Whole object into the arena, refused (-2) when larger than max. */
int media_read(struct arena *a, const char *name, size_t max, char **out, size_t *len);
int media_exists(const char *name);
/* Remove an original and every derivative of it. */
int media_delete(const char *name);

/* ---- derivatives ---- */
struct media_fit {
	const char *variant;  /* short name in the object name, e.g. "b1m" */
	int64_t max_bytes;    /* 0: none */
	int max_px;           /* longest side; 0: none */
	int jpeg_only;        /* the platform takes JPEG only */
};
/* The copy herald makes of an image for a platform (provider identifier),
 * or NULL when the platform gets originals.  One table for the providers
 * (what they ask the engine for) and preflight (what it may assume). */
const struct media_fit *media_fit_for(const char *platform);
/* Name of an object satisfying fit for original `name` (mime, bytes, w, h
 * its facts): the original itself when it already fits, else a derivative
 * made now or earlier; a video (any non-image) is always the original,
 * never transcoded.  0, or -1 when no derivative can be made. */
int media_fit(struct arena *a, const char *name, const char *mime, int64_t bytes, int w, int h,
	      const struct media_fit *fit, const char **out_name);
/* The same for image bytes fetched from elsewhere (a post's media URL):
 * 1 with *out a copy in the arena that fits, 0 with *out = in when they
 * already fit or are not an image, -1 when a copy was needed but could
 * not be made (the platform then judges the original). */
int media_fit_mem(struct arena *a, const void *in, size_t n, const struct media_fit *fit,
		  const void **out, size_t *outlen);

#endif
