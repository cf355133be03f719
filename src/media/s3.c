/* s3: see s3.h. */
#include "s3.h"
#include "../core/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define S3_TIMEOUT_MS 300000L

static CURL *start(const struct s3_cfg *c, const char *key, struct curl_slist **h,
		   const char *sha256, char *url, size_t ulen, char *sig, size_t slen, char *up,
		   size_t uplen)
{
	CURL *e = curl_easy_init();
	if (!e)
		return NULL;
	size_t el = strlen(c->endpoint);
	while (el && c->endpoint[el - 1] == '/')
		el--;
	snprintf(url, ulen, "%.*s/%s/%s", (int)el, c->endpoint, c->bucket, key);
	snprintf(sig, slen, "aws:amz:%s:s3", c->region);
	snprintf(up, uplen, "%s:%s", c->access_key, c->secret_key);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_AWS_SIGV4, sig);
	curl_easy_setopt(e, CURLOPT_USERPWD, up);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, S3_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	char hv[128];
	snprintf(hv, sizeof(hv), "x-amz-content-sha256: %s", sha256 ? sha256 : EMPTY_SHA256);
	*h = curl_slist_append(*h, hv);
	*h = curl_slist_append(*h, "Expect:");
	return e;
}

static long finish(CURL *e, struct curl_slist *h, const char *what, const char *key)
{
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	CURLcode rc = curl_easy_perform(e);
	long status = 0;
	if (rc == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	else
		log_msg(LOG_ERROR, "s3", "%s %s: %s", what, key, curl_easy_strerror(rc));
	curl_easy_cleanup(e);
	curl_slist_free_all(h);
	if (rc == CURLE_OK && (status < 200 || status >= 300) && status != 404)
		log_msg(LOG_ERROR, "s3", "%s %s: HTTP %ld", what, key, status);
	return status;
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
	(void)p;
	(void)u;
	return s * n;
}

int s3_put_file(const struct s3_cfg *c, const char *key, const char *path, const char *mime,
		const char *sha256)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	struct stat st;
	if (fstat(fileno(f), &st)) {
		fclose(f);
		return -1;
	}
	struct curl_slist *h = NULL;
	char url[1024], sig[128], up[512];
	CURL *e = start(c, key, &h, sha256, url, sizeof(url), sig, sizeof(sig), up, sizeof(up));
	if (!e) {
		fclose(f);
		return -1;
	}
	char ct[128];
	snprintf(ct, sizeof(ct), "Content-Type: %s", mime ? mime : "application/octet-stream");
	h = curl_slist_append(h, ct);
	curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(e, CURLOPT_READDATA, f);
	curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	long status = finish(e, h, "PUT", key);
	fclose(f);
	return status >= 200 && status < 300 ? 0 : -1;
}

int s3_get_file(const struct s3_cfg *c, const char *key, const char *path)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.part-XXXXXX", path);
	int fd = mkstemp(tmp);
	if (fd < 0)
		return -1;
	FILE *f = fdopen(fd, "wb");
	if (!f) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	struct curl_slist *h = NULL;
	char url[1024], sig[128], up[512];
	CURL *e = start(c, key, &h, NULL, url, sizeof(url), sig, sizeof(sig), up, sizeof(up));
	if (!e) {
		fclose(f);
		unlink(tmp);
		return -1;
	}
	curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
	long status = finish(e, h, "GET", key);
	int ok = status >= 200 && status < 300;
	if (fclose(f))
		ok = 0;
	if (!ok || rename(tmp, path)) {
		unlink(tmp);
		return status == 404 ? 1 : -1;
	}
	return 0;
}

int s3_head(const struct s3_cfg *c, const char *key)
{
	struct curl_slist *h = NULL;
	char url[1024], sig[128], up[512];
	CURL *e = start(c, key, &h, NULL, url, sizeof(url), sig, sizeof(sig), up, sizeof(up));
	if (!e)
		return -1;
	curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	long status = finish(e, h, "HEAD", key);
	return status >= 200 && status < 300 ? 0 : status == 404 ? 1 : -1;
}

int s3_delete(const struct s3_cfg *c, const char *key)
{
	struct curl_slist *h = NULL;
	char url[1024], sig[128], up[512];
	CURL *e = start(c, key, &h, NULL, url, sizeof(url), sig, sizeof(sig), up, sizeof(up));
	if (!e)
		return -1;
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	long status = finish(e, h, "DELETE", key);
	return (status >= 200 && status < 300) || status == 404 ? 0 : -1;
}
