/*
 * schema: the versioned migrations, oldest first.  A migration is never
 * edited once released; changes come as a new entry.  The SQL is written to
 * run unchanged on SQLite and PostgreSQL (BIGINT times in ms, TEXT ids,
 * JSON kept as TEXT, partial indexes).
 */
#ifndef HERALD_SCHEMA_H
#define HERALD_SCHEMA_H

static const char *const schema_migrations[] = {
	/* 1: tenancy, channels, posts */
	"CREATE TABLE orgs ("
	" id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL);"
	"CREATE TABLE api_keys ("
	" id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id),"
	" key_hash TEXT NOT NULL UNIQUE, hint TEXT NOT NULL,"
	" created_at BIGINT NOT NULL, revoked_at BIGINT);"
	"CREATE TABLE customers ("
	" id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id), name TEXT NOT NULL,"
	" created_at BIGINT NOT NULL, deleted_at BIGINT);"
	"CREATE UNIQUE INDEX customers_org_name ON customers(org_id, name) WHERE deleted_at IS NULL;"
	"CREATE TABLE channels ("
	" id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id),"
	" provider TEXT NOT NULL, name TEXT NOT NULL,"
	" picture TEXT NOT NULL DEFAULT '', profile TEXT NOT NULL DEFAULT '',"
	" customer_id TEXT REFERENCES customers(id), credentials TEXT,"
	" posting_times TEXT NOT NULL DEFAULT '[{\"time\":120},{\"time\":400},{\"time\":700}]',"
	" timezone TEXT NOT NULL DEFAULT 'UTC', disabled INTEGER NOT NULL DEFAULT 0,"
	" created_at BIGINT NOT NULL, deleted_at BIGINT);"
	"CREATE INDEX channels_org ON channels(org_id) WHERE deleted_at IS NULL;"
	"CREATE TABLE tags ("
	" id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id), name TEXT NOT NULL,"
	" color TEXT NOT NULL DEFAULT '#6366f1', created_at BIGINT NOT NULL,"
	" updated_at BIGINT NOT NULL, deleted_at BIGINT);"
	"CREATE UNIQUE INDEX tags_org_name ON tags(org_id, name) WHERE deleted_at IS NULL;"
	"CREATE TABLE posts ("
	" id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id),"
	" channel_id TEXT NOT NULL REFERENCES channels(id), grp TEXT NOT NULL,"
	" parent_id TEXT REFERENCES posts(id), position INTEGER NOT NULL,"
	" content TEXT NOT NULL, media TEXT NOT NULL DEFAULT '[]',"
	" settings TEXT NOT NULL DEFAULT '{}', delay_min INTEGER NOT NULL DEFAULT 0,"
	" state TEXT NOT NULL, publish_at BIGINT NOT NULL, interval_days INTEGER,"
	" creation_method TEXT NOT NULL DEFAULT 'API',"
	" release_id TEXT, release_url TEXT, error TEXT,"
	" attempts INTEGER NOT NULL DEFAULT 0, lease_until BIGINT, lease_owner TEXT,"
	" due_at BIGINT NOT NULL, published_at BIGINT,"
	" created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, deleted_at BIGINT);"
	/* the due-time index: a scheduler tick reads only what is due */
	"CREATE INDEX posts_due ON posts(due_at)"
	" WHERE state = 'queued' AND parent_id IS NULL AND deleted_at IS NULL;"
	"CREATE INDEX posts_org_date ON posts(org_id, publish_at)"
	" WHERE parent_id IS NULL AND deleted_at IS NULL;"
	"CREATE INDEX posts_group ON posts(grp);"
	"CREATE TABLE post_tags ("
	" post_id TEXT NOT NULL REFERENCES posts(id), tag_id TEXT NOT NULL REFERENCES tags(id),"
	" PRIMARY KEY (post_id, tag_id));"
	"CREATE TABLE attempts ("
	" id TEXT PRIMARY KEY, post_id TEXT NOT NULL REFERENCES posts(id),"
	" started_at BIGINT NOT NULL, finished_at BIGINT, outcome TEXT NOT NULL,"
	" http_status INTEGER, request TEXT, response TEXT, error TEXT);"
	"CREATE INDEX attempts_post ON attempts(post_id);"
	"CREATE INDEX posts_leased ON posts(lease_until) WHERE state = 'publishing';",
	/* 2: Idempotency-Key records (SPEC 4): one per org, route and key */
	"CREATE TABLE idempotency ("
	" org_id TEXT NOT NULL, route TEXT NOT NULL, key TEXT NOT NULL,"
	" body_hash TEXT NOT NULL, state TEXT NOT NULL, status INTEGER, body TEXT,"
	" created_at BIGINT NOT NULL, PRIMARY KEY (org_id, route, key));"
	"CREATE INDEX idempotency_created ON idempotency(created_at);",
	/* 3: native posts: one batch id over the threads (one per target) of a
	 * POST /v1/posts; Postiz-created threads have none */
	"ALTER TABLE posts ADD COLUMN batch TEXT;"
	"CREATE INDEX posts_batch ON posts(batch) WHERE batch IS NOT NULL;"
	"CREATE INDEX posts_org_created ON posts(org_id, created_at) WHERE parent_id IS NULL;",
	/* 4: deleting published posts from their platform (engine unpublish
	 * jobs): the root is in state 'deleting' with due_at and the publish
	 * lease columns; unpublish_mode 'keep' leaves the record (state
	 * 'deleted'), 'remove' soft-deletes it once the platform confirms;
	 * state_before_unpublish is restored when the platform refuses. */
	"ALTER TABLE posts ADD COLUMN unpublish_mode TEXT;"
	"ALTER TABLE posts ADD COLUMN state_before_unpublish TEXT;"
	"ALTER TABLE attempts ADD COLUMN kind TEXT NOT NULL DEFAULT 'publish';"
	"CREATE INDEX posts_unpublish ON posts(due_at) WHERE state = 'deleting' AND parent_id IS NULL;",
	/* 5: media library (issue #6); name is the storage object name */
	"CREATE TABLE media ("
	" id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id),"
	" name TEXT NOT NULL UNIQUE, original_name TEXT NOT NULL, mime TEXT NOT NULL,"
	" bytes BIGINT NOT NULL, sha256 TEXT NOT NULL, width INTEGER, height INTEGER,"
	" duration_ms BIGINT, alt TEXT, source_url TEXT,"
	" created_at BIGINT NOT NULL, deleted_at BIGINT);"
	"CREATE INDEX media_org ON media(org_id, id) WHERE deleted_at IS NULL;",
	/* 6: what a provider keeps about a published item beyond release_id
	 * and release_url, as JSON text it alone reads back (unpublish):
	 * Telegram stores every message id of an album, {"message_ids":[..]}.
	 * NULL for rows published before, and for providers that need none. */
	"ALTER TABLE posts ADD COLUMN release_data TEXT;",
	/* 7: analytics (issue #4).  analytics_jobs: one row per published root
	 * item of a provider with metrics; due_at is the next sample, claimed
	 * with a lease like the engine's other jobs; done when the schedule is
	 * over.  metric_samples: one counter value per sample. */
	"CREATE TABLE analytics_jobs ("
	" item_id TEXT PRIMARY KEY REFERENCES posts(id), org_id TEXT NOT NULL,"
	" channel_id TEXT NOT NULL, published_at BIGINT NOT NULL, samples INTEGER NOT NULL DEFAULT 0,"
	" due_at BIGINT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0,"
	" lease_owner TEXT, lease_until BIGINT, last_error TEXT, last_sampled_at BIGINT);"
	"CREATE INDEX analytics_jobs_due ON analytics_jobs(due_at) WHERE done = 0;"
	"CREATE TABLE metric_samples ("
	" id TEXT PRIMARY KEY, org_id TEXT NOT NULL, item_id TEXT NOT NULL, channel_id TEXT NOT NULL,"
	" name TEXT NOT NULL, value BIGINT NOT NULL, sampled_at BIGINT NOT NULL);"
	"CREATE INDEX metric_samples_item ON metric_samples(item_id, sampled_at);"
	"CREATE INDEX metric_samples_channel ON metric_samples(channel_id, sampled_at);",
};

#define SCHEMA_VERSION (int)(sizeof(schema_migrations) / sizeof(schema_migrations[0]))

#endif
