/* keys: create, list and revoke API keys. */
#include "cli.h"
#include "../core/arena.h"
#include "../core/crypto.h"
#include "../core/timeutil.h"
#include "../store/store.h"

#include <stdio.h>
#include <string.h>

static int keys_create(int argc, char **argv, struct config *cfg)
{
	const char *org = "default";
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--org") && i + 1 < argc)
			org = argv[++i];
		else if (!strncmp(argv[i], "--org=", 6))
			org = argv[i] + 6;
		else {
			fprintf(stderr, "herald keys create: unexpected argument '%s'\n", argv[i]);
			return 2;
		}
	}
	if (!*org || strlen(org) > 200) {
		fprintf(stderr, "herald keys create: --org must be 1-200 characters\n");
		return 2;
	}
	struct store *st;
	if (cli_open_store(cfg, &st))
		return 1;
	struct arena *a = arena_new();
	int rc = 1;
	char *org_id, *key_id;
	char key[API_KEY_LEN + 1], hash[KEY_HASH_LEN + 1], hint[16];
	if (store_org_ensure(st, a, org, &org_id)) {
		fprintf(stderr, "herald keys create: cannot create organization\n");
		goto out;
	}
	api_key_new(key);
	api_key_hash(key, hash);
	snprintf(hint, sizeof(hint), "%.4s...%s", key, key + API_KEY_LEN - 4);
	if (store_key_create(st, a, org_id, hash, hint, &key_id)) {
		fprintf(stderr, "herald keys create: cannot store the key\n");
		goto out;
	}
	printf("%s\n", key);
	rc = 0;
out:
	arena_free(a);
	store_close(st);
	return rc;
}

static int keys_list(struct config *cfg)
{
	struct store *st;
	if (cli_open_store(cfg, &st))
		return 1;
	struct arena *a = arena_new();
	struct store_key *v;
	size_t n;
	int rc = 1;
	if (store_key_list(st, a, &v, &n)) {
		fprintf(stderr, "herald keys list: storage error\n");
		goto out;
	}
	printf("%-26s  %-20s  %-13s  %-24s  %s\n", "ID", "ORGANIZATION", "KEY", "CREATED", "REVOKED");
	for (size_t i = 0; i < n; i++) {
		char c1[32], c2[32] = "-";
		iso_format(v[i].created_at, c1);
		if (v[i].revoked_at)
			iso_format(v[i].revoked_at, c2);
		printf("%-26s  %-20s  %-13s  %-24s  %s\n", v[i].id, v[i].org_name, v[i].hint, c1, c2);
	}
	rc = 0;
out:
	arena_free(a);
	store_close(st);
	return rc;
}

static int keys_revoke(int argc, char **argv, struct config *cfg)
{
	if (argc != 3) {
		fprintf(stderr, "usage: herald keys revoke ID\n");
		return 2;
	}
	struct store *st;
	if (cli_open_store(cfg, &st))
		return 1;
	int rc = store_key_revoke(st, argv[2]);
	store_close(st);
	if (rc == STORE_NOTFOUND) {
		fprintf(stderr, "herald keys revoke: no active key with id %s\n", argv[2]);
		return 1;
	}
	if (rc) {
		fprintf(stderr, "herald keys revoke: storage error\n");
		return 1;
	}
	printf("revoked %s\n", argv[2]);
	return 0;
}

int cmd_keys(int argc, char **argv, struct config *cfg)
{
	if (argc < 2) {
		command_usage(command_find("keys"), stderr);
		return 2;
	}
	if (!strcmp(argv[1], "create"))
		return keys_create(argc, argv, cfg);
	if (!strcmp(argv[1], "list"))
		return keys_list(cfg);
	if (!strcmp(argv[1], "revoke"))
		return keys_revoke(argc, argv, cfg);
	fprintf(stderr, "herald keys: unknown subcommand '%s'\n", argv[1]);
	return 2;
}
