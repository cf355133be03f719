/*
 * import: `herald import FILE.csv` bulk-schedules a content calendar on a
 * herald server (POST /v1/posts per row, up to --parallel in flight).
 *
 * Phases: (1) stream the CSV (src/core/csv.c) and check every row locally:
 * date (time zone --tz, offsets honoured, not in the past), channel(s)
 * resolved by id, name or platform against GET /v1/accounts, media files
 * present, settings columns; every bad row is reported with its line and
 * nothing is sent when any row is bad.  (2) --dry-run: every row through
 * POST /v1/posts/validate, reporting every violation with its line; or the
 * real run: each distinct media file uploaded once, then every row posted.
 *
 * Idempotency: row i's request carries "Idempotency-Key: herald-import-
 * <BLAKE2b of the row's fields>-<k>" where k counts earlier identical rows,
 * so a re-run of the same (or an edited) file within the server's 24 h
 * window replays instead of scheduling twice, and inserting a row does not
 * shift the keys of the others.  Uploads carry a key from the file's
 * content hash, so their media ids (and so the row bodies) are the same on
 * a re-run.
 *
 * Memory: one struct irow per data row holding its strings (malloc'd);
 * request bodies are built when sent.  Fields are bounded by the CSV
 * parser (64 KiB field, 256 KiB row, 64 columns).
 */
#include "cli.h"
#include "remote.h"
#include "../core/buf.h"
#include "../core/csv.h"
#include "../core/timeutil.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_SETTINGS 32

/* ---- a small string -> size_t map (open addressing) --------------------- */

struct smap {
	char **keys;
	size_t *vals;
	size_t cap, n;
};

static size_t shash(const char *s)
{
	size_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static size_t *smap_slot(struct smap *m, const char *k, int create)
{
	if (create && (m->n + 1) * 2 > m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 64;
		char **nk = calloc(nc, sizeof(*nk));
		size_t *nv = calloc(nc, sizeof(*nv));
		for (size_t i = 0; i < m->cap; i++) {
			if (!m->keys[i])
				continue;
			size_t j = shash(m->keys[i]) & (nc - 1);
			while (nk[j])
				j = (j + 1) & (nc - 1);
			nk[j] = m->keys[i];
			nv[j] = m->vals[i];
		}
		free(m->keys);
		free(m->vals);
		m->keys = nk;
		m->vals = nv;
		m->cap = nc;
	}
	if (!m->cap)
		return NULL;
	size_t j = shash(k) & (m->cap - 1);
	while (m->keys[j]) {
		if (!strcmp(m->keys[j], k))
			return &m->vals[j];
		j = (j + 1) & (m->cap - 1);
	}
	if (!create)
		return NULL;
	m->keys[j] = strdup(k);
	m->vals[j] = 0;
	m->n++;
	return &m->vals[j];
}

static void smap_free(struct smap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

/* ---- state ------------------------------------------------------------- */

struct irow {
	long line;
	long long at_ms;
	char *content, *first_comment;
	char *targets;      /* JSON array text */
	char *media;        /* '|'-separated tokens, files already resolved to paths */
	char *tags;
	char *options;      /* JSON object text or NULL */
	char key[96];
	struct buf errs;    /* "\n"-separated messages */
	json_t *violations; /* from validation / preflight */
	int outcome;        /* 0 pending, 1 created, 2 replayed, -1 failed */
};

struct mfile {
	char *path;
	char *media_id, *url;
	long long bytes;
};

enum col { C_DATE, C_CHANNEL, C_CONTENT, C_MEDIA, C_TAGS, C_FIRST_COMMENT, C_SETTING, C_IGNORE };

struct imp {
	const char *file, *dir;
	int dry_run, json, parallel, tty;
	struct remote r;
	json_t *accounts;
	/* header */
	int have_header;
	size_t ncols;
	enum col cols[64];
	char *setting_key[64];
	/* rows */
	struct irow *rows;
	size_t nrows, caprows, nbad;
	struct smap seen;       /* row hash -> copies so far */
	struct smap files;      /* resolved path -> index into mfiles */
	struct mfile *mfiles;
	size_t nfiles, capfiles;
	char fatal[600];
	long long now;
	/* progress */
	size_t done, total;
	long long t0, last_draw;
};

static void row_err(struct irow *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void row_err(struct irow *r, const char *fmt, ...)
{
	char msg[700];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->errs.len && buf_adds(&r->errs, "\n"))
		return;
	if (buf_adds(&r->errs, msg))
		return;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = 0;
	return s;
}

static int header(struct imp *im, const struct csv_row *row)
{
	int have[C_IGNORE] = {0};
	im->ncols = row->nfields;
	for (size_t i = 0; i < row->nfields; i++) {
		char name[128];
		snprintf(name, sizeof(name), "%s", row->fields[i]);
		char *n = trim(name);
		for (char *q = n; *q; q++)
			*q = (char)((*q >= 'A' && *q <= 'Z') ? *q + 32 : *q);
		enum col c;
		if (!strcmp(n, "date") || !strcmp(n, "time") || !strcmp(n, "scheduled_at"))
			c = C_DATE;
		else if (!strcmp(n, "channel") || !strcmp(n, "channels"))
			c = C_CHANNEL;
		else if (!strcmp(n, "content") || !strcmp(n, "text"))
			c = C_CONTENT;
		else if (!strcmp(n, "media"))
			c = C_MEDIA;
		else if (!strcmp(n, "tags"))
			c = C_TAGS;
		else if (!strcmp(n, "first_comment") || !strcmp(n, "firstcomment"))
			c = C_FIRST_COMMENT;
		else if (!strncmp(n, "settings.", 9) && n[9]) {
			c = C_SETTING;
			im->setting_key[i] = strdup(trim(strchr(row->fields[i], '.') + 1));
		} else if (!*n) {
			c = C_IGNORE;
		} else {
			snprintf(im->fatal, sizeof(im->fatal),
				 "line %ld: unknown column '%s' (columns: date, channel, content, media, tags, "
				 "first_comment, settings.KEY)", row->line, row->fields[i]);
			return -1;
		}
		if (c != C_SETTING && c != C_IGNORE && have[c]++) {
			snprintf(im->fatal, sizeof(im->fatal), "line %ld: column '%s' appears twice", row->line,
				 n);
			return -1;
		}
		im->cols[i] = c;
	}
	if (!have[C_DATE] || !have[C_CHANNEL] || !have[C_CONTENT]) {
		snprintf(im->fatal, sizeof(im->fatal),
			 "line %ld: the header row must name the columns date, channel and content "
			 "(and optionally media, tags, first_comment, settings.KEY)", row->line);
		return -1;
	}
	im->have_header = 1;
	return 0;
}

static int file_index(struct imp *im, const char *path, struct irow *r, size_t *out)
{
	size_t *v = smap_slot(&im->files, path, 0);
	if (v) {
		*out = *v;
		return 0;
	}
	struct stat sb;
	if (stat(path, &sb) || !S_ISREG(sb.st_mode) || access(path, R_OK)) {
		row_err(r, "media '%s' is neither an http(s) URL nor a readable file", path);
		return -1;
	}
	if (im->nfiles == im->capfiles) {
		im->capfiles = im->capfiles ? im->capfiles * 2 : 16;
		im->mfiles = realloc(im->mfiles, im->capfiles * sizeof(*im->mfiles));
	}
	im->mfiles[im->nfiles] = (struct mfile){strdup(path), NULL, NULL, (long long)sb.st_size};
	*smap_slot(&im->files, path, 1) = im->nfiles;
	*out = im->nfiles++;
	return 0;
}

static int is_url(const char *s)
{
	return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8);
}

/* '|'-separated list: calls fn on each trimmed non-empty token */
static char *next_tok(char **cur)
{
	while (*cur && **cur) {
		char *s = *cur, *bar = strchr(s, '|');
		if (bar) {
			*bar = 0;
			*cur = bar + 1;
		} else {
			*cur = s + strlen(s);
		}
		s = trim(s);
		if (*s)
			return s;
	}
	return NULL;
}

static int data_row(struct imp *im, const struct csv_row *row)
{
	int blank = 1; /* a row of empty or blank fields is skipped */
	for (size_t i = 0; i < row->nfields && blank; i++)
		for (const char *q = row->fields[i]; *q; q++)
			if (*q != ' ' && *q != '\t')
				blank = 0;
	if (blank)
		return 0;
	if (im->nrows == im->caprows) {
		im->caprows = im->caprows ? im->caprows * 2 : 1024;
		im->rows = realloc(im->rows, im->caprows * sizeof(*im->rows));
	}
	struct irow *r = &im->rows[im->nrows++];
	memset(r, 0, sizeof(*r));
	buf_init(&r->errs, 8192);
	r->line = row->line;

	/* the key: BLAKE2b over the raw fields, plus which copy of the row */
	unsigned char h[16];
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	for (size_t i = 0; i < row->nfields; i++)
		crypto_generichash_update(&st, (const unsigned char *)row->fields[i], row->lens[i] + 1);
	crypto_generichash_final(&st, h, sizeof(h));
	char hex[33];
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	size_t *copies = smap_slot(&im->seen, hex, 1);
	snprintf(r->key, sizeof(r->key), "herald-import-%s-%zu", hex, (*copies)++);

	if (row->nfields != im->ncols) {
		row_err(r, "has %zu fields, the header has %zu (a comma in an unquoted field?)",
			row->nfields, im->ncols);
		im->nbad++;
		return 0;
	}
	const char *date = NULL, *channel = NULL, *content = NULL;
	char *media = NULL, *tags = NULL;
	json_t *opts = NULL;
	for (size_t i = 0; i < row->nfields; i++) {
		char *v = row->fields[i];
		switch (im->cols[i]) {
		case C_DATE: date = trim(v); break;
		case C_CHANNEL: channel = v; break;
		case C_CONTENT: content = v; break;
		case C_MEDIA: media = v; break;
		case C_TAGS: tags = v; break;
		case C_FIRST_COMMENT:
			if (*trim(v))
				r->first_comment = strdup(v);
			break;
		case C_SETTING: {
			char *t = trim(v);
			if (!*t)
				break;
			json_error_t je;
			json_t *j = json_loads(t, JSON_DECODE_ANY, &je);
			if (!j)
				j = json_string(t);
			if (!j) {
				row_err(r, "settings.%s is not valid UTF-8", im->setting_key[i]);
				break;
			}
			if (!opts)
				opts = json_object();
			json_object_set_new(opts, im->setting_key[i], j);
			break;
		}
		default: break;
		}
	}
	char err[400];
	if (!date || !*date) {
		row_err(r, "date is empty");
	} else if (cli_parse_time(date, NULL, &r->at_ms, err, sizeof(err))) {
		row_err(r, "date %s", err);
	} else if (r->at_ms < im->now) {
		char iso[32];
		iso_format(r->at_ms, iso);
		row_err(r, "date %s (%s) is in the past", date, iso);
	}
	json_t *targets = json_array();
	char *chs = strdup(channel ? channel : ""), *cur = chs, *tok;
	while ((tok = next_tok(&cur))) {
		json_t *t = client_target(im->accounts, tok, 0, err, sizeof(err));
		if (!t) {
			row_err(r, "%s", err);
			continue;
		}
		if (opts)
			json_object_set(t, "options", opts);
		json_array_append_new(targets, t);
	}
	free(chs);
	if (!json_array_size(targets) && (!channel || !*trim((char *)channel)))
		row_err(r, "channel is empty");
	r->targets = json_dumps(targets, JSON_COMPACT);
	json_decref(targets);
	json_decref(opts);
	json_t *cj = json_string(content ? content : "");
	if (!cj)
		row_err(r, "content is not valid UTF-8");
	json_decref(cj);
	r->content = strdup(content ? content : "");
	/* media: URLs kept, files resolved against the CSV's directory */
	struct buf mb;
	buf_init(&mb, 1 << 20);
	char *ms = strdup(media ? media : "");
	cur = ms;
	int nmedia = 0;
	while ((tok = next_tok(&cur))) {
		char path[PATH_MAX];
		if (is_url(tok)) {
			snprintf(path, sizeof(path), "%s", tok);
		} else {
			if (tok[0] == '/')
				snprintf(path, sizeof(path), "%s", tok);
			else
				snprintf(path, sizeof(path), "%s/%s", im->dir, tok);
			size_t fi;
			if (file_index(im, path, r, &fi))
				continue;
		}
		if ((mb.len && buf_adds(&mb, "|")) || buf_adds(&mb, path))
			row_err(r, "too much media");
		nmedia++;
	}
	free(ms);
	r->media = buf_take(&mb);
	if (!r->media)
		r->media = strdup("");
	if (!*r->content && !nmedia)
		row_err(r, "content is empty and there is no media");
	if (tags && *trim(tags))
		r->tags = strdup(tags);
	if (r->errs.len)
		im->nbad++;
	return 0;
}

static int on_row(void *ud, const struct csv_row *row)
{
	struct imp *im = ud;
	if (!im->have_header)
		return header(im, row);
	return data_row(im, row);
}

/* ---- request bodies ---------------------------------------------------- */

static json_t *row_body(struct imp *im, struct irow *r)
{
	json_error_t je;
	json_t *b = json_object();
	json_object_set_new(b, "text", json_string(r->content));
	json_object_set_new(b, "targets", json_loads(r->targets, 0, &je));
	char iso[32];
	iso_format(r->at_ms, iso);
	json_object_set_new(b, "scheduledAt", json_string(iso));
	if (*r->media) {
		json_t *ma = json_array();
		char *ms = strdup(r->media), *cur = ms, *tok;
		while ((tok = next_tok(&cur))) {
			if (is_url(tok)) {
				json_array_append_new(ma, json_pack("{s:s}", "url", tok));
				continue;
			}
			size_t *fi = smap_slot(&im->files, tok, 0);
			struct mfile *mf = &im->mfiles[*fi];
			if (mf->media_id)
				json_array_append_new(ma, json_pack("{s:s,s:s?}", "mediaId", mf->media_id,
								    "url", mf->url));
			else /* dry run: described for preflight */
				json_array_append_new(ma, cli_media_placeholder(tok, mf->bytes));
		}
		free(ms);
		json_object_set_new(b, "media", ma);
	}
	if (r->tags) {
		json_t *ta = json_array();
		char *ts = strdup(r->tags), *cur = ts, *tok;
		while ((tok = next_tok(&cur)))
			json_array_append_new(ta, json_string(tok));
		free(ts);
		json_object_set_new(b, "tags", ta);
	}
	if (r->first_comment)
		json_object_set_new(b, "firstComment", json_string(r->first_comment));
	return b;
}

/* ---- progress ---------------------------------------------------------- */

static void progress(struct imp *im, int final)
{
	if (!im->tty)
		return;
	long long t = now_ms();
	if (!final && t - im->last_draw < 100)
		return;
	im->last_draw = t;
	size_t total = im->total;
	double frac = total ? (double)im->done / (double)total : 1;
	int w = 30, fill = (int)(frac * w);
	double el = (double)(t - im->t0) / 1000.0;
	double rate = el > 0 ? (double)im->done / el : 0;
	double eta = rate > 0 ? (double)(total - im->done) / rate : 0;
	fprintf(stderr, "\r%s [", im->dry_run ? "validating" : "scheduling");
	for (int i = 0; i < w; i++)
		fputc(i < fill ? '#' : '.', stderr);
	fprintf(stderr, "] %zu/%zu %3d%% %6.0f/s ETA %3.0fs", im->done, total, (int)(frac * 100), rate,
		eta);
	if (final)
		fputc('\n', stderr);
	fflush(stderr);
}

/* ---- sending ----------------------------------------------------------- */

struct pass {
	struct imp *im;
	size_t *idx;   /* rows to send */
};

static int make_job(void *ud, size_t i, struct remote_job *job)
{
	struct pass *ps = ud;
	struct irow *r = &ps->im->rows[ps->idx[i]];
	json_t *b = row_body(ps->im, r);
	job->body = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	job->method = "POST";
	if (ps->im->dry_run) {
		job->path = "/v1/posts/validate";
	} else {
		job->path = "/v1/posts";
		job->idem = r->key;
	}
	return job->body ? 0 : -1;
}

static void job_done(void *ud, size_t i, struct remote_resp *resp)
{
	struct pass *ps = ud;
	struct imp *im = ps->im;
	struct irow *r = &im->rows[ps->idx[i]];
	im->done++;
	progress(im, 0);
	if (im->dry_run && resp->status == 200) {
		if (json_is_true(json_object_get(resp->body, "valid"))) {
			r->outcome = 1;
			return;
		}
		r->violations = json_incref(json_object_get(resp->body, "violations"));
		r->outcome = -1;
		return;
	}
	if (!im->dry_run && resp->status >= 200 && resp->status < 300) {
		r->outcome = resp->replayed ? 2 : 1;
		return;
	}
	r->outcome = -1;
	if (resp->status == 0) {
		row_err(r, "cannot reach the server: %s", resp->neterr);
	} else if (resp->err_code) {
		if (resp->err_code && !strcmp(resp->err_code, "idempotency_conflict"))
			row_err(r, "this row was imported before with different values "
				   "(idempotency_conflict): %s", resp->err_message ? resp->err_message : "");
		else if (resp->err_field)
			row_err(r, "%s: %s (field %s)", resp->err_code,
				resp->err_message ? resp->err_message : "", resp->err_field);
		else
			row_err(r, "%s: %s", resp->err_code, resp->err_message ? resp->err_message : "");
		if (resp->err_violations)
			r->violations = json_incref(resp->err_violations);
	} else {
		row_err(r, "HTTP %ld: %.200s", resp->status, resp->raw ? resp->raw : "");
	}
}

static int file_key(const char *path, char *out, size_t outlen)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	crypto_generichash_state st;
	unsigned char h[16], chunk[1 << 16];
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		crypto_generichash_update(&st, chunk, n);
	int bad = ferror(f);
	fclose(f);
	if (bad)
		return -1;
	crypto_generichash_final(&st, h, sizeof(h));
	char hex[33];
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	snprintf(out, outlen, "herald-media-%s", hex);
	return 0;
}

static int upload_media(struct imp *im)
{
	for (size_t i = 0; i < im->nfiles; i++) {
		struct mfile *mf = &im->mfiles[i];
		/* keyed by content: a re-run gets the same media id back, so
		 * the rows' bodies (and their replays) stay identical */
		char key[96];
		if (file_key(mf->path, key, sizeof(key))) {
			fprintf(stderr, "herald import: cannot read %s: %s\n", mf->path, strerror(errno));
			return CLI_FAIL;
		}
		struct remote_resp resp;
		remote_upload(&im->r, mf->path, key, &resp);
		const char *id = json_string_value(json_object_get(resp.body, "id"));
		if ((resp.status != 200 && resp.status != 201) || !id) {
			char cmd[600];
			snprintf(cmd, sizeof(cmd), "import: upload of %s", mf->path);
			remote_print_error(cmd, &resp, stderr);
			int rc = resp.status ? remote_exit_code(&resp) : CLI_SERVER;
			remote_resp_free(&resp);
			return rc ? rc : CLI_SERVER;
		}
		mf->media_id = strdup(id);
		const char *url = json_string_value(json_object_get(resp.body, "url"));
		mf->url = url ? strdup(url) : NULL;
		remote_resp_free(&resp);
	}
	return CLI_OK;
}

/* ---- reporting --------------------------------------------------------- */

static void report_row(struct imp *im, struct irow *r, json_t *jerrs)
{
	if (jerrs) {
		json_t *msgs = json_array();
		char *e = r->errs.data, *save = NULL;
		char *copy = strdup(e ? e : "");
		for (char *m = strtok_r(copy, "\n", &save); m; m = strtok_r(NULL, "\n", &save))
			json_array_append_new(msgs, json_string(m));
		free(copy);
		json_array_append_new(jerrs, json_pack("{s:I,s:o,s:O?}", "line", (json_int_t)r->line,
						       "errors", msgs, "violations", r->violations));
		return;
	}
	(void)im;
	if (r->errs.len) {
		char *copy = strdup(r->errs.data), *save = NULL;
		for (char *m = strtok_r(copy, "\n", &save); m; m = strtok_r(NULL, "\n", &save))
			fprintf(stdout, "line %ld: %s\n", r->line, m);
		free(copy);
	}
	if (r->violations) {
		char pre[64];
		snprintf(pre, sizeof(pre), "line %ld: ", r->line);
		remote_print_violations(r->violations, pre, stdout);
	}
}

static void imp_free(struct imp *im)
{
	for (size_t i = 0; i < im->nrows; i++) {
		struct irow *r = &im->rows[i];
		free(r->content);
		free(r->first_comment);
		free(r->targets);
		free(r->media);
		free(r->tags);
		free(r->options);
		buf_release(&r->errs);
		json_decref(r->violations);
	}
	free(im->rows);
	for (size_t i = 0; i < im->nfiles; i++) {
		free(im->mfiles[i].path);
		free(im->mfiles[i].media_id);
		free(im->mfiles[i].url);
	}
	free(im->mfiles);
	for (size_t i = 0; i < 64; i++)
		free(im->setting_key[i]);
	smap_free(&im->seen);
	smap_free(&im->files);
	json_decref(im->accounts);
	if (im->r.easy)
		remote_close(&im->r);
}

int cmd_import(int argc, char **argv, struct config *cfg)
{
	(void)cfg;
	struct client_args ca;
	if (client_args(&argc, argv, &ca))
		return CLI_USAGE;
	struct imp im;
	memset(&im, 0, sizeof(im));
	im.parallel = 16;
	im.json = ca.json;
	const char *tz = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--dry-run")) {
			im.dry_run = 1;
		} else if ((!strcmp(argv[i], "--tz") || !strcmp(argv[i], "--parallel")) && i + 1 < argc) {
			if (!strcmp(argv[i], "--tz")) {
				tz = argv[++i];
			} else {
				char *end;
				long n = strtol(argv[++i], &end, 10);
				if (*end || n < 1 || n > 64) {
					fprintf(stderr, "herald import: --parallel wants 1..64\n");
					return CLI_USAGE;
				}
				im.parallel = (int)n;
			}
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "herald import: unknown option or missing value '%s'\n", argv[i]);
			return CLI_USAGE;
		} else if (!im.file) {
			im.file = argv[i];
		} else {
			fprintf(stderr, "herald import: one CSV file at a time ('%s')\n", argv[i]);
			return CLI_USAGE;
		}
	}
	if (!im.file) {
		fprintf(stderr, "herald import: give the CSV file (see 'herald import --help')\n");
		return CLI_USAGE;
	}
	char err[400];
	if (cli_set_tz(tz, err, sizeof(err))) {
		fprintf(stderr, "herald import: --tz %s\n", err);
		return CLI_USAGE;
	}
	FILE *f = strcmp(im.file, "-") ? fopen(im.file, "rb") : stdin;
	if (!f) {
		fprintf(stderr, "herald import: cannot open %s: %s\n", im.file, strerror(errno));
		return CLI_USAGE;
	}
	char dirbuf[PATH_MAX];
	snprintf(dirbuf, sizeof(dirbuf), "%s", im.file);
	char *slash = strrchr(dirbuf, '/');
	if (slash && slash != dirbuf)
		*slash = 0;
	else if (slash)
		dirbuf[1] = 0;
	else
		snprintf(dirbuf, sizeof(dirbuf), ".");
	im.dir = dirbuf;
	im.tty = isatty(2);
	int rc = client_open("import", &ca, &im.r);
	if (rc)
		goto out_file;
	if ((rc = client_accounts("import", &im.r, &im.accounts)))
		goto out_file;
	im.now = now_ms();

	/* phase 1: parse and check every row */
	struct csv p;
	if (csv_init(&p, 0, 0, 0, on_row, &im)) {
		rc = CLI_FAIL;
		goto out_file;
	}
	char chunk[1 << 16];
	size_t n;
	int perr = 0;
	while (!perr && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		perr = csv_feed(&p, chunk, n);
	if (!perr && ferror(f)) {
		fprintf(stderr, "herald import: read error on %s\n", im.file);
		csv_free(&p);
		rc = CLI_FAIL;
		goto out_file;
	}
	if (!perr)
		perr = csv_finish(&p);
	if (perr) {
		if (p.err == CSV_ERR_STOPPED)
			fprintf(stderr, "herald import: %s: %s\n", im.file, im.fatal);
		else
			fprintf(stderr, "herald import: %s: line %ld: %s\n", im.file, p.err_line,
				csv_strerror(p.err));
		csv_free(&p);
		rc = p.err == CSV_ERR_STOPPED ? CLI_USAGE : CLI_INVALID;
		goto out_file;
	}
	csv_free(&p);
	if (!im.have_header) {
		fprintf(stderr, "herald import: %s is empty (want a header row: date,channel,content,...)\n",
			im.file);
		rc = CLI_INVALID;
		goto out_file;
	}
	json_t *jerrs = im.json ? json_array() : NULL;
	size_t local_bad = im.nbad;
	if (local_bad && !im.dry_run) {
		/* a real run sends nothing while any row is bad */
		for (size_t i = 0; i < im.nrows; i++)
			if (im.rows[i].errs.len)
				report_row(&im, &im.rows[i], jerrs);
		fprintf(stderr, "herald import: %zu of %zu rows have errors; nothing was sent\n", im.nbad,
			im.nrows);
		if (im.json) {
			json_t *o = json_pack("{s:b,s:I,s:I,s:I,s:I,s:O}", "dryRun", 0, "rows",
					      (json_int_t)im.nrows, "created", (json_int_t)0, "replayed",
					      (json_int_t)0, "failed", (json_int_t)im.nbad, "errors", jerrs);
			char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
			puts(s);
			free(s);
			json_decref(o);
		}
		json_decref(jerrs);
		rc = CLI_INVALID;
		goto out_file;
	}

	/* phase 2: validate (dry run) or create every locally good row */
	if (!im.dry_run && (rc = upload_media(&im)))
		goto out_jerrs;
	size_t *idx = malloc((im.nrows ? im.nrows : 1) * sizeof(*idx)), nidx = 0;
	for (size_t i = 0; i < im.nrows; i++)
		if (!im.rows[i].errs.len)
			idx[nidx++] = i;
	struct pass ps = {&im, idx};
	im.t0 = now_ms();
	im.total = nidx;
	if (remote_run_many(&im.r, nidx, im.parallel, make_job, job_done, &ps)) {
		fprintf(stderr, "herald import: could not build a request\n");
		rc = CLI_FAIL;
	}
	free(idx);
	progress(&im, 1);
	long long ms = now_ms() - im.t0;
	size_t created = 0, replayed = 0, failed = 0;
	int net = 0;
	for (size_t i = 0; i < im.nrows; i++) {
		struct irow *r = &im.rows[i];
		if (r->outcome == 1) {
			created++;
		} else if (r->outcome == 2) {
			replayed++;
		} else {
			failed++;
			if (r->errs.data && strstr(r->errs.data, "cannot reach the server"))
				net = 1;
			report_row(&im, r, jerrs);
		}
	}
	if (!rc && failed)
		rc = net ? CLI_SERVER : CLI_INVALID;
	if (!im.json) {
		if (im.dry_run)
			printf("%zu rows checked in %.1f s: %zu valid, %zu invalid\n", im.nrows, (double)ms / 1000,
			       created, failed);
		else
			printf("%zu rows in %.1f s: %zu scheduled, %zu already scheduled by an earlier run, "
			       "%zu failed\n", im.nrows, (double)ms / 1000, created, replayed, failed);
	} else {
		json_t *o = json_pack("{s:b,s:I,s:I,s:I,s:I,s:I,s:O}", "dryRun", im.dry_run, "rows",
				      (json_int_t)im.nrows, im.dry_run ? "valid" : "created",
				      (json_int_t)created, "replayed", (json_int_t)replayed, "failed",
				      (json_int_t)failed, "ms", (json_int_t)ms, "errors", jerrs);
		char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		puts(s);
		free(s);
		json_decref(o);
	}
out_jerrs:
	json_decref(jerrs);
out_file:
	if (f != stdin)
		fclose(f);
	imp_free(&im);
	return rc;
}
