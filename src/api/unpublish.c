/*
 * unpublish: deleting a published post from its platform.
 *
 *   POST /v1/posts/{id}/unpublish          native; the record stays, with
 *                                          status "deleting", then "deleted"
 *   DELETE /public/v1/posts/{id}?platform=true
 *                                          Postiz route (posts.c hands it
 *                                          here); the record is removed once
 *                                          the platform confirms
 *
 * Postiz itself never deletes from the platform: its DELETE only hides the
 * post in Postiz (postiz.md 2.5).  So herald's Postiz DELETE without the
 * parameter keeps exactly that meaning, and platform deletion is opt-in.
 *
 * The request only records the intent (store_unpublish_request: state
 * deleting, durable); the engine's unpublish jobs do the platform calls
 * (src/engine/unpublish.c), record each as an attempt of kind "unpublish"
 * with the platform's raw answer, and end in "deleted" or, when the
 * platform refuses, back in the previous state with the reason as error.
 */
#include "api.h"
#include "../core/arena.h"
#include "../core/timeutil.h"
#include "../providers/provider.h"
#include "../store/store.h"

#include <string.h>

int api_unpublish_requested(struct call *c)
{
	const char *v = http_query_param(c->r, "platform");
	return v && (!strcmp(v, "true") || !strcmp(v, "1"));
}

/* 0 when the request was recorded and answered; 1 when nothing of the post
 * is on the platform and nothing was answered (the Postiz route then
 * cancels as usual); -1 when an error was answered. */
int api_unpublish(struct call *c, const char *id, int mode)
{
	struct store_post *v;
	size_t n;
	int rc = store_post_thread(c->st, c->a, c->org_id, id, &v, &n);
	if (rc == STORE_NOTFOUND) {
		api_fail(c, HERR_NOT_FOUND, "id", "Post not found");
		return -1;
	}
	if (rc) {
		api_fail_storage(c);
		return -1;
	}
	int live = 0;
	for (size_t i = 0; i < n; i++)
		live |= v[i].published_at && v[i].release_id && strcmp(v[i].state, PS_DELETED);
	if (!live && mode == UNPUB_REMOVE)
		return 1;
	const struct provider *pr = provider_find(v[0].channel_provider);
	int why = 0;
	if (pr && pr->unpublish) {
		rc = store_unpublish_request(c->st, c->org_id, v[0].grp, mode, now_ms(), &why);
	} else {
		rc = STORE_CONFLICT;
		why = -1;
	}
	if (rc == STORE_CONFLICT && why == UNPUB_NOTHING && mode == UNPUB_REMOVE)
		return 1;
	if (rc == STORE_CONFLICT && why == UNPUB_ALREADY)
		rc = 0; /* asking twice is asking once */
	if (rc == STORE_NOTFOUND) {
		api_fail(c, HERR_NOT_FOUND, "id", "Post not found");
		return -1;
	}
	if (rc == STORE_CONFLICT) {
		if (why == -1)
			api_fail(c, HERR_INVALID_STATE, "id",
				 "herald cannot delete posts from %s; remove it there by hand",
				 pr ? pr->name : v[0].channel_provider);
		else if (why == UNPUB_BUSY)
			api_fail(c, HERR_INVALID_STATE, "id",
				 "the post is being published right now; ask again once it is published");
		else
			api_fail(c, HERR_INVALID_STATE, "id",
				 "nothing of this post is on the platform (status %s); delete or cancel "
				 "it instead",
				 v[0].state);
		return -1;
	}
	if (rc) {
		api_fail_storage(c);
		return -1;
	}
	if (mode == UNPUB_REMOVE)
		api_reply(c, 200, json_pack("{s:b,s:b,s:b,s:s,s:s}", "error", 0, "deleted", 0,
					    "deleting", 1, "group", v[0].grp, "id", v[0].id));
	else
		api_reply(c, 202, json_pack("{s:s,s:s,s:s,s:s}", "id", v[0].id, "status",
					    PS_DELETING, "platform", v[0].channel_provider, "group",
					    v[0].grp));
	return 0;
}

/* A native post id names every target (a batch of threads); the id of one
 * thread names that thread only.  With several targets each is asked
 * for on its own and the answer says, per target, deleting or why not. */
void h_post_unpublish(void *p)
{
	struct call *c = p;
	const char *id = c->params[0];
	struct store_post *rows;
	size_t n = 0, roots = 0;
	if (store_native_rows(c->st, c->a, c->org_id, id, &rows, &n)) {
		api_unpublish(c, id, UNPUB_KEEP);
		return;
	}
	while (roots < n && rows[roots].position == 0)
		roots++;
	if (roots == 1) {
		api_unpublish(c, rows[0].id, UNPUB_KEEP);
		return;
	}
	json_t *targets = json_array();
	int accepted = 0;
	for (size_t i = 0; i < roots; i++) {
		const struct provider *pr = provider_find(rows[i].channel_provider);
		int why = 0, rc = STORE_CONFLICT;
		const char *reason = NULL;
		if (pr && pr->unpublish)
			rc = store_unpublish_request(c->st, c->org_id, rows[i].grp, UNPUB_KEEP, now_ms(), &why);
		else
			reason = arena_printf(c->a, "herald cannot delete posts from %s",
					      pr ? pr->name : rows[i].channel_provider);
		if (rc == STORE_CONFLICT && why == UNPUB_ALREADY)
			rc = 0;
		if (!rc) {
			accepted++;
		} else if (!reason) {
			reason = rc != STORE_CONFLICT ? "storage error"
				 : why == UNPUB_BUSY ? "being published right now"
						     : "nothing of it is on the platform";
		}
		json_array_append_new(targets, json_pack("{s:s,s:s,s:s,s:s?}", "id", rows[i].id,
							 "accountId", rows[i].channel_id, "status",
							 rc ? rows[i].state : PS_DELETING, "error", reason));
	}
	if (!accepted) {
		json_decref(targets);
		api_fail(c, HERR_INVALID_STATE, "id",
			 "none of the post's %zu targets can be deleted from its platform now", roots);
		return;
	}
	api_reply(c, 202, json_pack("{s:s,s:s,s:o}", "id", id, "status", PS_DELETING, "targets", targets));
}
