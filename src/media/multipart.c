/* multipart: see multipart.h.
 *
 * The delimiter is "\r\n--" + boundary; the body's first delimiter may come
 * without the CRLF, so the parser starts as if "\r\n" had just been read.
 * Matching is a single index into the delimiter: a boundary cannot contain
 * CR (RFC 2046 bchars), so on a mismatch the only place a new match can
 * start is the current byte, and the bytes matched so far are data. */
#include "multipart.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int bchar(int c)
{
	return isalnum(c) || strchr("'()+_,-./:=? ", c);
}

int mp_boundary(const char *ct, char *out, size_t outlen)
{
	if (!ct)
		return -1;
	while (*ct == ' ')
		ct++;
	if (strncasecmp(ct, "multipart/form-data", 19) || (ct[19] && ct[19] != ';' && ct[19] != ' '))
		return -1;
	const char *p = ct + 19;
	while (*p) {
		while (*p == ';' || *p == ' ' || *p == '\t')
			p++;
		const char *k = p;
		while (*p && *p != '=' && *p != ';')
			p++;
		size_t kl = (size_t)(p - k);
		while (kl && (k[kl - 1] == ' ' || k[kl - 1] == '\t'))
			kl--;
		if (*p != '=')
			continue;
		p++;
		while (*p == ' ')
			p++;
		char v[MP_MAX_BOUNDARY + 2];
		size_t vl = 0;
		int bad = 0;
		if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				if (vl < sizeof(v) - 1)
					v[vl++] = *p;
				else
					bad = 1;
				p++;
			}
			if (*p != '"')
				return -1;
			p++;
		} else {
			while (*p && *p != ';' && *p != ' ' && *p != '\t') {
				if (vl < sizeof(v) - 1)
					v[vl++] = *p;
				else
					bad = 1;
				p++;
			}
		}
		v[vl] = 0;
		if (kl == 8 && !strncasecmp(k, "boundary", 8)) {
			if (bad || vl == 0 || vl > MP_MAX_BOUNDARY || vl >= outlen)
				return -1;
			for (size_t i = 0; i < vl; i++)
				if (!bchar((unsigned char)v[i]))
					return -1;
			memcpy(out, v, vl + 1);
			return 0;
		}
	}
	return -1;
}

int mp_init(struct mp *p, const char *boundary, const struct mp_callbacks *cb, void *u)
{
	memset(p, 0, sizeof(*p));
	size_t bl = strlen(boundary);
	if (bl == 0 || bl > MP_MAX_BOUNDARY)
		return -1;
	for (size_t i = 0; i < bl; i++)
		if (!bchar((unsigned char)boundary[i]))
			return -1;
	memcpy(p->delim, "\r\n--", 4);
	memcpy(p->delim + 4, boundary, bl);
	p->dlen = bl + 4;
	p->m = 2; /* the first delimiter may open the body without a CRLF */
	p->state = MP_PREAMBLE;
	p->cb = cb;
	p->u = u;
	return 0;
}

static int fail(struct mp *p, const char *why)
{
	p->state = MP_ERROR;
	p->error = why;
	return -1;
}

/* Value of parameter `key` in a Content-Disposition header into out. */
static int disp_param(const char *v, const char *key, char *out, size_t outlen)
{
	size_t kl = strlen(key);
	const char *p = v;
	while ((p = strchr(p, ';'))) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, key, kl) || p[kl] != '=')
			continue;
		p += kl + 1;
		size_t n = 0;
		if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				if (n + 1 < outlen)
					out[n++] = *p;
				p++;
			}
		} else {
			while (*p && *p != ';' && *p != ' ' && *p != '\t') {
				if (n + 1 < outlen)
					out[n++] = *p;
				p++;
			}
		}
		out[n] = 0;
		return 0;
	}
	return -1;
}

/* hdr holds the header block without its final empty line, NUL-terminated. */
static int parse_headers(struct mp *p, struct mp_part *part)
{
	memset(part, 0, sizeof(*part));
	int have_disp = 0;
	char *line = p->hdr;
	while (*line) {
		char *eol = strstr(line, "\r\n");
		if (eol)
			*eol = 0;
		char *colon = strchr(line, ':');
		if (!colon)
			return fail(p, "a part header line has no colon");
		*colon = 0;
		char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		if (!strcasecmp(line, "Content-Disposition")) {
			if (strncasecmp(v, "form-data", 9))
				return fail(p, "a part's Content-Disposition is not form-data");
			have_disp = 1;
			if (disp_param(v, "name", part->name, sizeof(part->name)))
				return fail(p, "a part has no name");
			if (!disp_param(v, "filename", part->filename, sizeof(part->filename)))
				part->has_filename = 1;
		} else if (!strcasecmp(line, "Content-Type")) {
			snprintf(part->content_type, sizeof(part->content_type), "%s", v);
		}
		if (!eol)
			break;
		line = eol + 2;
	}
	if (!have_disp)
		return fail(p, "a part has no Content-Disposition");
	return 0;
}

int mp_feed(struct mp *p, const char *data, size_t n)
{
	if (p->state == MP_ERROR)
		return -1;
	size_t i = 0;
	while (i < n) {
		unsigned char c = (unsigned char)data[i];
		switch (p->state) {
		case MP_PREAMBLE:
		case MP_BODY: {
			/* data run: bytes that cannot start or continue a match go
			 * out in one callback */
			size_t run = i;
			while (i < n) {
				c = (unsigned char)data[i];
				if (c == (unsigned char)p->delim[p->m]) {
					if (p->m == 0 && i > run && p->state == MP_BODY &&
					    p->cb->part_data(p->u, data + run, i - run))
						return fail(p, "aborted");
					if (p->m == 0)
						run = i + 1;
					p->m++;
					i++;
					if (p->m == p->dlen) {
						p->m = 0;
						if (p->state == MP_BODY && p->cb->part_end(p->u))
							return fail(p, "aborted");
						p->state = MP_AFTER_DELIM;
						break;
					}
					run = i;
					continue;
				}
				if (p->m > 0) {
					/* the matched prefix was data after all */
					if (p->state == MP_BODY &&
					    p->cb->part_data(p->u, p->delim, p->m))
						return fail(p, "aborted");
					p->m = 0;
					run = i;
					continue; /* re-examine this byte from scratch */
				}
				i++;
			}
			if (p->state == MP_BODY && p->m == 0 && i > run &&
			    p->cb->part_data(p->u, data + run, i - run))
				return fail(p, "aborted");
			break;
		}
		case MP_AFTER_DELIM:
			if (c == '-') {
				p->state = MP_AFTER_DELIM_DASH;
			} else if (c == '\r') {
				p->state = MP_AFTER_DELIM_CR;
			} else if (c != ' ' && c != '\t') {
				return fail(p, "malformed delimiter line");
			}
			i++;
			break;
		case MP_AFTER_DELIM_DASH:
			if (c != '-')
				return fail(p, "malformed closing delimiter");
			p->state = MP_DONE;
			i++;
			break;
		case MP_AFTER_DELIM_CR:
			if (c != '\n')
				return fail(p, "malformed delimiter line");
			if (++p->nparts > MP_MAX_PARTS)
				return fail(p, "too many parts");
			p->hlen = 0;
			p->state = MP_HEADERS;
			i++;
			break;
		case MP_HEADERS:
			if (p->hlen + 1 >= sizeof(p->hdr))
				return fail(p, "part headers too large");
			p->hdr[p->hlen++] = (char)c;
			i++;
			if (p->hlen >= 2 && p->hdr[p->hlen - 2] == '\r' && p->hdr[p->hlen - 1] == '\n') {
				size_t end;
				if (p->hlen == 2)
					end = 0; /* no headers at all */
				else if (p->hlen >= 4 && !memcmp(p->hdr + p->hlen - 4, "\r\n\r\n", 4))
					end = p->hlen - 4;
				else
					break;
				p->hdr[end] = 0;
				if (memchr(p->hdr, 0, end))
					return fail(p, "NUL in part headers");
				struct mp_part part;
				if (parse_headers(p, &part))
					return -1;
				if (p->cb->part_begin(p->u, &part))
					return fail(p, "aborted");
				p->state = MP_BODY;
				p->m = 0;
			}
			break;
		case MP_DONE:
			return 0; /* epilogue: ignored */
		case MP_ERROR:
			return -1;
		}
	}
	return 0;
}

int mp_finish(struct mp *p)
{
	if (p->state == MP_DONE)
		return 0;
	if (p->state != MP_ERROR)
		fail(p, "the body ends before the closing boundary");
	return -1;
}
