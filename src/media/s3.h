/*
 * s3: the few S3 calls the media storage needs (PUT, GET into a file, HEAD,
 * DELETE) on an S3-compatible endpoint, path-style
 * (<endpoint>/<bucket>/<key>), signed with AWS Signature V4 by libcurl
 * (CURLOPT_AWS_SIGV4).  Blocking calls with a time limit: the storage
 * interface is synchronous.  Keys are media object names (media_name_ok),
 * which need no escaping.
 */
#ifndef HERALD_S3_H
#define HERALD_S3_H

struct s3_cfg {
	const char *endpoint, *bucket, *region, *access_key, *secret_key;
};

/* 0, or -1 (logged).  sha256: hex of the file's bytes (signed payload). */
int s3_put_file(const struct s3_cfg *c, const char *key, const char *path, const char *mime,
		const char *sha256);
/* 0; 1 when the object does not exist; -1 otherwise.  The file at path is
 * written only on success (through a temporary beside it). */
int s3_get_file(const struct s3_cfg *c, const char *key, const char *path);
int s3_head(const struct s3_cfg *c, const char *key);
int s3_delete(const struct s3_cfg *c, const char *key);

#endif
