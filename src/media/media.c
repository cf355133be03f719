/* media: see media.h. */
#include "media.h"
#include "../core/arena.h"
#include "../core/log.h"
#include "s3.h"

#include <dlfcn.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <magic.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <vips/vips.h>

static const struct {
	const char *mime, *ext;
} types[] = {
	{"image/jpeg", "jpg"}, {"image/png", "png"},   {"image/gif", "gif"},
	{"image/webp", "webp"}, {"image/avif", "avif"}, {"image/bmp", "bmp"},
	{"image/x-ms-bmp", "bmp"}, {"image/tiff", "tiff"}, {"video/mp4", "mp4"},
};

const char *media_ext_for(const char *mime)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(types[i].mime, mime))
			return types[i].ext;
	return NULL;
}

const char *media_mime_for_name(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (!dot)
		return "application/octet-stream";
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(types[i].ext, dot + 1))
			return strcmp(types[i].mime, "image/x-ms-bmp") ? types[i].mime : "image/bmp";
	return "application/octet-stream";
}

static pthread_once_t vips_once = PTHREAD_ONCE_INIT;
static int vips_ok;

/* libmagic is not thread-safe: one handle per thread, loaded on first use */
static __thread magic_t tl_magic;
static pthread_key_t magic_key;
static pthread_once_t magic_once = PTHREAD_ONCE_INIT;

static void magic_free(void *m)
{
	magic_close(m);
}

static void magic_key_init(void)
{
	pthread_key_create(&magic_key, magic_free);
}

static magic_t magic_handle(void)
{
	if (!tl_magic) {
		/* the key's destructor closes the handle when the thread ends */
		pthread_once(&magic_once, magic_key_init);
		tl_magic = magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR);
		if (!tl_magic || magic_load(tl_magic, NULL)) {
			log_msg(LOG_ERROR, "media", "libmagic: %s",
				tl_magic ? magic_error(tl_magic) : "cannot open");
			if (tl_magic)
				magic_close(tl_magic);
			tl_magic = NULL;
			return NULL;
		}
		pthread_setspecific(magic_key, tl_magic);
	}
	return tl_magic;
}

int media_sniff(const char *path, char *mime, size_t mlen)
{
	magic_t m0 = magic_handle();
	const char *m = m0 ? magic_file(m0, path) : NULL;
	if (!m)
		return -1;
	snprintf(mime, mlen, "%s", m);
	return 0;
}

int media_sniff_mem(const void *buf, size_t n, char *mime, size_t mlen)
{
	magic_t m0 = magic_handle();
	const char *m = m0 ? magic_buffer(m0, buf, n) : NULL;
	if (!m)
		return -1;
	snprintf(mime, mlen, "%s", m);
	return 0;
}

/* libvips is opened on first use (dlopen), not linked: its dependency
 * tree (glib, poppler, ImageMagick, OpenEXR, ...) would cost an idle
 * server some 13 MB of resident memory for a feature many never use.
 * The prototypes still come from <vips/vips.h> through __typeof__. */
#define VIPS_FNS(X)                                                                 \
	X(vips_init) X(vips_cache_set_max) X(vips_concurrency_set) X(vips_shutdown)  \
	X(vips_image_new_from_file) X(vips_image_get_width) X(vips_image_get_height) \
	X(vips_error_clear) X(vips_thumbnail) X(vips_image_hasalpha) X(vips_flatten) \
	X(vips_array_double_newv) X(vips_area_unref) X(vips_jpegsave_buffer)         \
	X(g_object_unref) X(g_free) X(vips_block_untrusted_set) X(vips_thumbnail_buffer)   \
	X(vips_image_new_from_buffer)

static struct {
#define VIPS_FIELD(f) __typeof__(&f) f;
	VIPS_FNS(VIPS_FIELD)
#undef VIPS_FIELD
} V;

static void vips_start(void)
{
	void *h = dlopen("libvips.so.42", RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		log_msg(LOG_WARN, "media", "libvips not available (%s): no image sizes or derivatives",
			dlerror());
		return;
	}
#define VIPS_LOAD(f)                                                                  \
	if (!(*(void **)&V.f = dlsym(h, #f))) {                                       \
		log_msg(LOG_WARN, "media", "libvips lacks %s: no image sizes or derivatives", #f); \
		return;                                                               \
	}
	VIPS_FNS(VIPS_LOAD)
#undef VIPS_LOAD
	vips_ok = V.vips_init("herald") == 0;
	if (vips_ok) {
		/* uploads are hostile input: no loaders libvips marks untrusted
		 * (ImageMagick, ...), only its own fuzzed ones */
		V.vips_block_untrusted_set(TRUE);
		/* bounded work per request: no operation cache, few threads */
		V.vips_cache_set_max(0);
		V.vips_concurrency_set(1);
	}
}

static int vips_ready(void)
{
	pthread_once(&vips_once, vips_start);
	return vips_ok;
}

void media_shutdown(void)
{
	if (tl_magic) {
		magic_close(tl_magic);
		tl_magic = NULL;
		pthread_setspecific(magic_key, NULL);
	}
	if (vips_ok)
		V.vips_shutdown();
}

int media_facts(const char *path, struct media_facts *f)
{
	memset(f, 0, sizeof(*f));
	if (media_sniff(path, f->mime, sizeof(f->mime)))
		return -1;
	f->ext = media_ext_for(f->mime);
	if (!strcmp(f->mime, "image/x-ms-bmp"))
		snprintf(f->mime, sizeof(f->mime), "image/bmp");
	if (!f->ext)
		return 0;
	if (!strncmp(f->mime, "video/", 6)) {
		f->is_video = 1;
		mp4_probe_file(path, &f->duration_ms, &f->width, &f->height);
		return 0;
	}
	if (!strcmp(f->mime, "image/bmp")) {
		/* libvips reads BMP only through ImageMagick, which is blocked:
		 * the size is in the header (BITMAPINFOHEADER, little-endian) */
		unsigned char h[26];
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t got = fd >= 0 ? pread(fd, h, sizeof(h), 0) : -1;
		if (fd >= 0)
			close(fd);
		if (got != (ssize_t)sizeof(h) || h[0] != 'B' || h[1] != 'M') {
			f->ext = NULL;
			return 0;
		}
		int32_t w = (int32_t)((uint32_t)h[18] | (uint32_t)h[19] << 8 | (uint32_t)h[20] << 16 |
				      (uint32_t)h[21] << 24);
		int32_t hh = (int32_t)((uint32_t)h[22] | (uint32_t)h[23] << 8 | (uint32_t)h[24] << 16 |
				       (uint32_t)h[25] << 24);
		if (w <= 0 || w > 1000000 || hh == 0 || hh < -1000000 || hh > 1000000) {
			f->ext = NULL;
			return 0;
		}
		f->width = w;
		f->height = hh < 0 ? -hh : hh;
		return 0;
	}
	if (!vips_ready())
		return 0;
	VipsImage *im = V.vips_image_new_from_file(path, "access", VIPS_ACCESS_SEQUENTIAL, NULL);
	if (!im) {
		V.vips_error_clear();
		f->ext = NULL; /* sniffed as an image but not decodable: refuse */
		return 0;
	}
	f->width = V.vips_image_get_width(im);
	f->height = V.vips_image_get_height(im);
	V.g_object_unref(im);
	return 0;
}

/* ---- MP4 ---- */

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const unsigned char *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* One box header at p (n bytes available): type, header and total size.
 * -1 when malformed or larger than n. */
static int box(const unsigned char *p, size_t n, char type[5], size_t *hdr, uint64_t *size)
{
	if (n < 8)
		return -1;
	uint64_t s = be32(p);
	memcpy(type, p + 4, 4);
	type[4] = 0;
	*hdr = 8;
	if (s == 1) {
		if (n < 16)
			return -1;
		s = be64(p + 8);
		*hdr = 16;
	} else if (s == 0) {
		s = n;
	}
	if (s < *hdr || s > n)
		return -1;
	*size = s;
	return 0;
}

static void parse_tkhd(const unsigned char *p, size_t n, int *w, int *h)
{
	if (n < 4 || *w)
		return;
	size_t off = p[0] == 1 ? 4 + 8 + 8 + 4 + 4 + 8 : 4 + 4 + 4 + 4 + 4 + 4;
	off += 8 + 2 + 2 + 2 + 2 + 36;
	if (n < off + 8)
		return;
	*w = (int)(be32(p + off) >> 16);
	*h = (int)(be32(p + off + 4) >> 16);
}

static int parse_moov(const unsigned char *p, size_t n, int64_t *dur, int *w, int *h, int depth)
{
	int found = 0;
	size_t off = 0;
	while (off + 8 <= n) {
		char t[5];
		size_t hl;
		uint64_t sz;
		if (box(p + off, n - off, t, &hl, &sz))
			break;
		const unsigned char *b = p + off + hl;
		size_t bl = (size_t)sz - hl;
		if (!strcmp(t, "mvhd") && bl >= 4) {
			uint64_t ts = 0, d = 0;
			if (b[0] == 1 && bl >= 4 + 8 + 8 + 4 + 8) {
				ts = be32(b + 20);
				d = be64(b + 24);
			} else if (b[0] == 0 && bl >= 4 + 4 + 4 + 4 + 4) {
				ts = be32(b + 12);
				d = be32(b + 16);
			}
			if (ts && d != UINT64_MAX && d / ts < 100000000ull) {
				*dur = (int64_t)(d * 1000 / ts);
				found = 1;
			}
		} else if (!strcmp(t, "trak") && depth < 2) {
			parse_moov(b, bl, dur, w, h, depth + 1);
		} else if (!strcmp(t, "tkhd")) {
			parse_tkhd(b, bl, w, h);
		}
		off += (size_t)sz;
	}
	return found ? 0 : -1;
}

int mp4_probe_mem(const unsigned char *buf, size_t n, int64_t *duration_ms, int *w, int *h)
{
	*duration_ms = 0;
	*w = *h = 0;
	size_t off = 0;
	while (off + 8 <= n) {
		char t[5];
		size_t hl;
		uint64_t sz;
		if (box(buf + off, n - off, t, &hl, &sz))
			return -1;
		if (!strcmp(t, "moov"))
			return parse_moov(buf + off + hl, (size_t)sz - hl, duration_ms, w, h, 0);
		off += (size_t)sz;
	}
	return -1;
}

#define MOOV_MAX (64u * 1024 * 1024)

int mp4_probe_file(const char *path, int64_t *duration_ms, int *w, int *h)
{
	*duration_ms = 0;
	*w = *h = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat stt;
	int rc = -1;
	if (fstat(fd, &stt))
		goto out;
	uint64_t off = 0, end = (uint64_t)stt.st_size;
	while (off + 8 <= end) {
		unsigned char h16[16];
		ssize_t got = pread(fd, h16, 16, (off_t)off);
		if (got < 8)
			break;
		uint64_t sz = be32(h16);
		size_t hl = 8;
		if (sz == 1) {
			if (got < 16)
				break;
			sz = be64(h16 + 8);
			hl = 16;
		} else if (sz == 0) {
			sz = end - off;
		}
		if (sz < hl || sz > end - off)
			break;
		if (!memcmp(h16 + 4, "moov", 4)) {
			if (sz > MOOV_MAX)
				break;
			unsigned char *b = malloc(sz);
			if (b && pread(fd, b, sz, (off_t)off) == (ssize_t)sz)
				rc = mp4_probe_mem(b, sz, duration_ms, w, h);
			free(b);
			break;
		}
		off += sz;
	}
out:
	close(fd);
	return rc;
}

/* ---- names and local storage ---- */

int media_name_ok(const char *name)
{
	size_t i = 0;
	for (; i < 26; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'z')))
			return 0;
	int dots = 0;
	while (name[i]) {
		if (name[i] != '.' || ++dots > 2)
			return 0;
		i++;
		size_t k = 0;
		while ((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'z')) {
			i++;
			k++;
		}
		if (k == 0 || k > 8)
			return 0;
	}
	return dots >= 1;
}

static char root_dir[4096], tmp_dir[4096 + 8];

static int mkdir_p(const char *path)
{
	char buf[4200];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = 0;
			if (mkdir(buf, 0700) && errno != EEXIST)
				return -1;
			*p = '/';
		}
	}
	return mkdir(buf, 0700) && errno != EEXIST ? -1 : 0;
}

/* Temporary files a crashed process left behind: uploads in progress
 * (tmp dir) and partial S3 downloads ("<name>.part-XXXXXX").  Only those
 * older than an hour go: another process may share the data dir. */
static void sweep(const char *dir, int parts_only)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	time_t cutoff = time(NULL) - 3600;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || (parts_only && !strstr(e->d_name, ".part-")))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
		    st.st_mtime < cutoff)
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

static struct s3_cfg s3;
static int use_s3;

/* ---- the local cache of the bucket ----
 * Its size is kept in a counter (an estimate between scans: files are
 * added by any loop thread and removed by deletes); past cache_max one
 * thread scans the directory and removes the least recently used files,
 * by modification time, which a read from the cache renews, down to 80%.
 * A file being read while it is removed stays readable through its fd. */
static _Atomic int64_t cache_bytes;
static int64_t cache_max;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

struct cached {
	char name[256];
	int64_t size;
	struct timespec mtime;
};

static int cached_older(const void *a, const void *b)
{
	const struct cached *x = a, *y = b;
	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The cached files and their total; NULL when the directory cannot be read. */
static struct cached *cache_scan(size_t *n_out, int64_t *total)
{
	*n_out = 0;
	*total = 0;
	DIR *d = opendir(root_dir);
	if (!d)
		return NULL;
	size_t n = 0, cap = 64;
	struct cached *v = malloc(cap * sizeof(*v));
	struct dirent *e;
	while (v && (e = readdir(d))) {
		struct stat st;
		if (!media_name_ok(e->d_name) || fstatat(dirfd(d), e->d_name, &st, 0) || !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			struct cached *nv = realloc(v, (cap *= 2) * sizeof(*v));
			if (!nv)
				break;
			v = nv;
		}
		snprintf(v[n].name, sizeof(v[n].name), "%s", e->d_name);
		v[n].size = st.st_size;
		v[n].mtime = st.st_mtim;
		*total += st.st_size;
		n++;
	}
	closedir(d);
	*n_out = n;
	return v;
}

static void cache_added(int64_t bytes)
{
	if (!use_s3 || atomic_fetch_add(&cache_bytes, bytes) + bytes <= cache_max)
		return;
	if (pthread_mutex_trylock(&cache_lock))
		return; /* another thread is trimming */
	size_t n;
	int64_t total;
	struct cached *v = cache_scan(&n, &total);
	if (v) {
		qsort(v, n, sizeof(*v), cached_older);
		int64_t goal = cache_max / 10 * 8;
		int removed = 0;
		for (size_t i = 0; i < n && total > goal; i++) {
			char p[4200];
			snprintf(p, sizeof(p), "%s/%s", root_dir, v[i].name);
			if (unlink(p) == 0) {
				total -= v[i].size;
				removed++;
			}
		}
		atomic_store(&cache_bytes, total);
		log_msg(LOG_INFO, "media", "cache of the bucket: %d files removed, %lld bytes kept",
			removed, (long long)total);
		free(v);
	}
	pthread_mutex_unlock(&cache_lock);
}

int media_storage_init(const struct media_storage_cfg *sc, char *err, size_t errlen)
{
	const char *data_dir = sc->data_dir;
	use_s3 = 0;
	if (sc->backend && !strcmp(sc->backend, "s3")) {
		if (!sc->s3_endpoint || !*sc->s3_endpoint || !sc->s3_bucket || !*sc->s3_bucket ||
		    !sc->s3_access_key || !*sc->s3_access_key || !sc->s3_secret_key ||
		    !*sc->s3_secret_key) {
			snprintf(err, errlen, "HERALD_STORAGE=s3 needs HERALD_S3_ENDPOINT, HERALD_S3_BUCKET, "
					      "HERALD_S3_ACCESS_KEY and HERALD_S3_SECRET_KEY");
			return -1;
		}
		if (strncmp(sc->s3_endpoint, "http://", 7) && strncmp(sc->s3_endpoint, "https://", 8)) {
			snprintf(err, errlen, "HERALD_S3_ENDPOINT must be an http(s) URL");
			return -1;
		}
		s3 = (struct s3_cfg){sc->s3_endpoint, sc->s3_bucket,
				     sc->s3_region && *sc->s3_region ? sc->s3_region : "us-east-1",
				     sc->s3_access_key, sc->s3_secret_key};
		use_s3 = 1;
		cache_max = sc->cache_max > 0 ? sc->cache_max : (int64_t)1 << 30;
	} else if (sc->backend && *sc->backend && strcmp(sc->backend, "local")) {
		snprintf(err, errlen, "HERALD_STORAGE must be local or s3, not '%s'", sc->backend);
		return -1;
	}
	snprintf(root_dir, sizeof(root_dir), "%s/uploads", data_dir);
	snprintf(tmp_dir, sizeof(tmp_dir), "%s/.tmp", root_dir);
	if (mkdir_p(tmp_dir)) {
		snprintf(err, errlen, "cannot create %s: %s", tmp_dir, strerror(errno));
		return -1;
	}
	sweep(tmp_dir, 0);
	sweep(root_dir, 1);
	if (use_s3) {
		size_t n;
		int64_t total;
		free(cache_scan(&n, &total));
		atomic_store(&cache_bytes, 0);
		cache_added(total); /* trims a cache left over the bound */
	}
	return 0;
}

const char *media_tmp_dir(void)
{
	return tmp_dir;
}

static void obj_path(const char *name, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s", root_dir, name);
}

int media_put_file(const char *tmp_path, const char *name, const char *mime, const char *sha256)
{
	if (!media_name_ok(name))
		return -1;
	/* object storage first: the local copy is only a cache of it */
	if (use_s3 && s3_put_file(&s3, name, tmp_path, mime, sha256))
		return -1;
	char p[4200];
	obj_path(name, p, sizeof(p));
	struct stat st;
	int64_t size = stat(tmp_path, &st) == 0 ? st.st_size : 0;
	if (rename(tmp_path, p)) {
		log_msg(LOG_ERROR, "media", "rename %s: %s", p, strerror(errno));
		return -1;
	}
	cache_added(size);
	return 0;
}

int media_open(const char *name, int *fd, int64_t *size)
{
	if (!media_name_ok(name))
		return -1;
	char p[4200];
	obj_path(name, p, sizeof(p));
	int f = open(p, O_RDONLY | O_CLOEXEC);
	int fetched = 0;
	if (f < 0 && errno == ENOENT && use_s3 && s3_get_file(&s3, name, p) == 0) {
		f = open(p, O_RDONLY | O_CLOEXEC);
		fetched = 1;
	}
	if (f < 0)
		return -1;
	struct stat stt;
	if (fstat(f, &stt) || !S_ISREG(stt.st_mode)) {
		close(f);
		return -1;
	}
	if (fetched)
		cache_added(stt.st_size);
	else if (use_s3)
		futimens(f, NULL); /* recently used: the last to leave the cache */
	*fd = f;
	*size = stt.st_size;
	return 0;
}

int media_read(struct arena *a, const char *name, size_t max, char **out, size_t *len)
{
	int fd;
	int64_t size;
	if (media_open(name, &fd, &size))
		return -1;
	if ((uint64_t)size > max) {
		close(fd);
		return -2;
	}
	char *b = arena_alloc(a, (size_t)size + 1);
	size_t got = 0;
	while (got < (size_t)size) {
		ssize_t k = read(fd, b + got, (size_t)size - got);
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(fd);
	if (got != (size_t)size)
		return -1;
	b[got] = 0;
	*out = b;
	*len = got;
	return 0;
}

int media_exists(const char *name)
{
	if (!media_name_ok(name))
		return 0;
	char p[4200];
	obj_path(name, p, sizeof(p));
	if (access(p, R_OK) == 0)
		return 1;
	return use_s3 && s3_head(&s3, name) == 0;
}

static const char *const variants[] = {"b1m", "jpg", NULL}; /* every fit's variant */

int media_delete(const char *name)
{
	if (!media_name_ok(name))
		return -1;
	char p[4200];
	obj_path(name, p, sizeof(p));
	int rc = unlink(p) && errno != ENOENT ? -1 : 0;
	if (use_s3 && s3_delete(&s3, name))
		rc = -1;
	/* derivatives share the 26-char id (every fit writes JPEG) */
	for (int i = 0; variants[i]; i++) {
		char d[64];
		snprintf(d, sizeof(d), "%.26s.%s.jpg", name, variants[i]);
		obj_path(d, p, sizeof(p));
		int had = unlink(p) == 0;
		if (use_s3 && (had || s3_head(&s3, d) == 0))
			s3_delete(&s3, d);
	}
	return rc;
}

/* ---- derivatives ---- */

static const struct {
	const char *platform;
	struct media_fit fit;
} platform_fits[] = {
	/* app.bsky.embed.images: blobs of at most 1,000,000 bytes; the app
	 * itself sends at most 2000 px on the long side */
	{"bluesky", {"b1m", 1000000, 2000, 0}},
	/* Instagram's content publishing API takes JPEG only */
	{"instagram", {"jpg", 8 * 1024 * 1024, 1440, 1}},
	{"instagram-standalone", {"jpg", 8 * 1024 * 1024, 1440, 1}},
};

const struct media_fit *media_fit_for(const char *platform)
{
	for (size_t i = 0; i < sizeof(platform_fits) / sizeof(platform_fits[0]); i++)
		if (!strcmp(platform_fits[i].platform, platform))
			return &platform_fits[i].fit;
	return NULL;
}

static int write_tmp_then_put(const void *b, size_t n, const char *name)
{
	char tp[4200];
	snprintf(tp, sizeof(tp), "%s/drv-XXXXXX", tmp_dir);
	int fd = mkstemp(tp);
	if (fd < 0)
		return -1;
	size_t off = 0;
	while (off < n) {
		ssize_t k = write(fd, (const char *)b + off, n - off);
		if (k <= 0)
			break;
		off += (size_t)k;
	}
	int ok = off == n && fsync(fd) == 0;
	close(fd);
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[2 * sizeof(h) + 1];
	crypto_hash_sha256(h, b, n);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	if (!ok || media_put_file(tp, name, "image/jpeg", hex)) {
		unlink(tp);
		return -1;
	}
	return 0;
}

/* A JPEG of the image (a file, or bytes when path is NULL) whose longest
 * side is at most target and whose size is within fit: the quality goes
 * down first, then the size.  0 with *out from g_malloc (V.g_free it). */
static int shrink_jpeg(const char *path, const void *in, size_t n, int target,
		       const struct media_fit *fit, void **out, size_t *outlen)
{
	static const int qs[] = {90, 82, 74, 66};
	for (int round = 0; round < 8; round++) {
		VipsImage *t = NULL, *flat = NULL;
		int trc = path ? V.vips_thumbnail(path, &t, target, "height", target, "size", VIPS_SIZE_DOWN, NULL)
			       : V.vips_thumbnail_buffer((void *)in, n, &t, target, "height", target, "size",
							 VIPS_SIZE_DOWN, NULL);
		if (trc) {
			V.vips_error_clear();
			return -1;
		}
		if (V.vips_image_hasalpha(t)) {
			VipsArrayDouble *bg = V.vips_array_double_newv(1, 255.0);
			int frc = V.vips_flatten(t, &flat, "background", bg, NULL);
			V.vips_area_unref(VIPS_AREA(bg));
			V.g_object_unref(t);
			if (frc) {
				V.vips_error_clear();
				return -1;
			}
			t = flat;
		}
		for (size_t qi = 0; qi < sizeof(qs) / sizeof(qs[0]); qi++) {
			void *buf = NULL;
			size_t len = 0;
			if (V.vips_jpegsave_buffer(t, &buf, &len, "Q", qs[qi], "strip", TRUE, NULL)) {
				V.vips_error_clear();
				break;
			}
			if (!fit->max_bytes || (int64_t)len <= fit->max_bytes) {
				V.g_object_unref(t);
				*out = buf;
				*outlen = len;
				return 0;
			}
			V.g_free(buf);
		}
		V.g_object_unref(t);
		target = target * 3 / 4;
		if (target < 64)
			break;
	}
	return -1;
}

int media_fit_mem(struct arena *a, const void *in, size_t n, const struct media_fit *fit,
		  const void **out, size_t *outlen)
{
	*out = in;
	*outlen = n;
	char mime[64];
	if (!fit || media_sniff_mem(in, n, mime, sizeof(mime)) || strncmp(mime, "image/", 6) ||
	    !media_ext_for(mime))
		return 0; /* not an image herald takes: the platform judges it */
	if (!vips_ready())
		return -1;
	VipsImage *im = V.vips_image_new_from_buffer((void *)in, n, "", NULL);
	if (!im) {
		V.vips_error_clear();
		return -1;
	}
	int w = V.vips_image_get_width(im), h = V.vips_image_get_height(im);
	V.g_object_unref(im);
	int long_side = w > h ? w : h;
	if ((!fit->max_bytes || (int64_t)n <= fit->max_bytes) && (!fit->max_px || long_side <= fit->max_px) &&
	    (!fit->jpeg_only || !strcmp(mime, "image/jpeg")))
		return 0;
	int target = fit->max_px && long_side > fit->max_px ? fit->max_px : long_side;
	if (target <= 0)
		target = 2000;
	void *buf = NULL;
	size_t len = 0;
	if (shrink_jpeg(NULL, in, n, target, fit, &buf, &len))
		return -1;
	char *copy = arena_alloc(a, len + 1);
	memcpy(copy, buf, len);
	copy[len] = 0;
	V.g_free(buf);
	*out = copy;
	*outlen = len;
	return 1;
}

int media_fit(struct arena *a, const char *name, const char *mime, int64_t bytes, int w, int h,
	      const struct media_fit *fit, const char **out_name)
{
	if (strncmp(mime, "image/", 6)) {
		/* a video (or anything not an image) goes as it is: a fit is an
		 * image's JPEG copy, and the platform judges the original */
		*out_name = name;
		return 0;
	}
	int is_jpeg = !strcmp(mime, "image/jpeg");
	int long_side = w > h ? w : h;
	if ((!fit->max_bytes || bytes <= fit->max_bytes) && (!fit->max_px || long_side <= fit->max_px) &&
	    (!fit->jpeg_only || is_jpeg)) {
		*out_name = name;
		return 0;
	}
	char *dname = arena_printf(a, "%.26s.%s.jpg", name, fit->variant);
	if (media_exists(dname)) {
		*out_name = dname;
		return 0;
	}
	if (!vips_ready())
		return -1;
	char src[4200];
	obj_path(name, src, sizeof(src));
	int target = fit->max_px && long_side > fit->max_px ? fit->max_px : long_side;
	if (target <= 0)
		target = 2000;
	void *buf = NULL;
	size_t len = 0;
	int rc = shrink_jpeg(src, NULL, 0, target, fit, &buf, &len);
	if (rc == 0) {
		rc = write_tmp_then_put(buf, len, dname);
		V.g_free(buf);
	}
	if (rc == 0)
		*out_name = dname;
	return rc;
}
