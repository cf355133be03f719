/*
 * rules: the preflight rule table and the checks that read it.
 *
 * The table below is the one source of truth: pf_check walks it, and the
 * catalog (GET /v1/preflight/rules) is generated from it.  Adding a limit
 * is adding a row.  Each row names its source and a confidence mark:
 *   V  verified in a primary source (platform docs, lexicon, spec) as
 *      recorded in reference/platforms.md
 *   C  read in an open-source client's code (Postiz provider, letmepost
 *      constants) without a primary source
 *   M  from memory or a secondary source (Ayrshare, orshot, CoSchedule
 *      pages quoted in reference/letmepost_and_peers.md section 4): verify
 *      before relying on it
 *   H  herald's own contract (webhook, rss)
 * Where references disagree the row says which value was chosen and why.
 *
 * Units of text rules follow the platform's own counting (text.h); where a
 * platform only says "characters", UTF-16 units are used, as Postiz counts
 * (JavaScript length) and as most platforms' JSON APIs do: never fewer than
 * code points, so a post that passes here is not over the limit in either.
 */
#include "rules.h"
#include "text.h"
#include "../core/arena.h"
#include "../core/buf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KB 1000.0
#define MB 1000000.0
#define GB 1000000000.0
#define MIB 1048576.0

#define ID(p, s, c) .id = p "." s "." c, .platform = p, .surface = s, .check = c

/* ---- platforms ---- */

static const struct pf_platform {
	const char *id, *name;
	int thread; /* value[1..] are published (Postiz "Cmt"); else only value[0] */
} platforms[] = {
	{"x", "X", 1},
	{"linkedin", "LinkedIn", 1},
	{"linkedin-page", "LinkedIn Page", 1},
	{"reddit", "Reddit", 1},
	{"instagram", "Instagram", 1},
	{"instagram-standalone", "Instagram", 1},
	{"facebook", "Facebook", 1},
	{"threads", "Threads", 1},
	{"youtube", "YouTube", 0},
	{"gmb", "Google Business Profile", 0},
	{"tiktok", "TikTok", 0},
	{"tiktok-business", "TikTok", 0},
	{"pinterest", "Pinterest", 0},
	{"dribbble", "Dribbble", 0},
	{"discord", "Discord", 1},
	{"slack", "Slack", 1},
	{"kick", "Kick", 1},
	{"twitch", "Twitch", 1},
	{"mastodon", "Mastodon", 1},
	{"bluesky", "Bluesky", 1},
	{"lemmy", "Lemmy", 1},
	{"wrapcast", "Farcaster", 1},
	{"telegram", "Telegram", 1},
	{"nostr", "Nostr", 1},
	{"vk", "VK", 1},
	{"medium", "Medium", 0},
	{"devto", "Dev.to", 0},
	{"hashnode", "Hashnode", 0},
	{"wordpress", "WordPress", 0},
	{"listmonk", "Listmonk", 0},
	{"moltbook", "Moltbook", 1},
	{"whop", "Whop", 1},
	{"skool", "Skool", 1},
	{"mewe", "MeWe", 0},
	{"tumblr", "Tumblr", 0},
	{"webhook", "Webhook", 1},
	{"rss", "RSS/Atom feed", 1},
};

#define NPLAT (sizeof(platforms) / sizeof(platforms[0]))

/* ---- the table ---- */

#define POSTIZ3 "postiz.md section 3 (provider maxLength / checkValidity)"
#define LMP14 "letmepost_and_peers.md 1.4 (letmepost constants)"
#define LMP4 "letmepost_and_peers.md section 4"

/* LinkedIn personal profiles and pages share every rule */
#define LINKEDIN_RULES(P)                                                                        \
	{ID(P, "text", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 3000,         \
	 .source = POSTIZ3 " (3000); " LMP4 " (3,000)", .confidence = "C"},                         \
	{ID(P, "text", "non_empty"), .kind = PF_TEXT_OR_MEDIA, .source = LMP14 " linkedin.text.non_empty", \
	 .confidence = "C"},                                                                       \
	{ID(P, "media", "max_images"), .kind = PF_IMAGES_MAX, .unit = PF_U_ITEMS, .max = 20,         \
	 .scope = PF_FIRST_ITEM, .source = "platforms.md section 5 (multiImage 2-20)",             \
	 .confidence = "C"},                                                                       \
	{ID(P, "media", "max_videos"), .kind = PF_VIDEOS_MAX, .unit = PF_U_ITEMS, .max = 1,          \
	 .scope = PF_FIRST_ITEM, .source = POSTIZ3 " (a video must be the only media)",            \
	 .confidence = "C"},                                                                       \
	{ID(P, "media", "image_video_exclusive"), .kind = PF_IMAGE_VIDEO_EXCLUSIVE,                 \
	 .scope = PF_FIRST_ITEM, .source = POSTIZ3 " (a video must be the only media)",            \
	 .confidence = "C"},                                                                       \
	{ID(P, "media", "allowed_mime"), .kind = PF_MIME_ALLOWED, .unit = PF_U_MIME,                \
	 .scope = PF_FIRST_ITEM, .arg = "image/jpeg,image/png,image/gif,video/mp4",                \
	 .source = "platforms.md section 5 (JPG/PNG/GIF, MP4); " LMP4 " (orshot)", .confidence = "M"}, \
	{ID(P, "image", "max_bytes"), .kind = PF_MAX_BYTES, .unit = PF_U_BYTES, .max = 5 * MB,       \
	 .scope = PF_FIRST_ITEM, .arg = "image/",                                                  \
	 .source = "platforms.md section 5 (5 MB; orshot in " LMP4 " says 8 MB: the lower is used)", \
	 .confidence = "M"},                                                                       \
	{ID(P, "image", "max_pixels"), .kind = PF_MAX_PIXELS, .unit = PF_U_PIXELS, .max = 36152320, \
	 .scope = PF_FIRST_ITEM, .arg = "image/", .source = "platforms.md section 5",               \
	 .confidence = "C"},                                                                       \
	{ID(P, "video", "max_bytes"), .kind = PF_MAX_BYTES, .unit = PF_U_BYTES, .max = 500 * MB,     \
	 .scope = PF_FIRST_ITEM, .arg = "video/", .source = "platforms.md section 5 (75 KB-500 MB)", \
	 .confidence = "M"},                                                                       \
	{ID(P, "video", "min_duration"), .kind = PF_MIN_DURATION, .unit = PF_U_SECONDS, .min = 3,    \
	 .scope = PF_FIRST_ITEM, .arg = "video/", .source = "platforms.md section 5 (3 s-30 min)",  \
	 .confidence = "M"},                                                                       \
	{ID(P, "video", "max_duration"), .kind = PF_MAX_DURATION, .unit = PF_U_SECONDS, .max = 1800, \
	 .scope = PF_FIRST_ITEM, .arg = "video/", .source = "platforms.md section 5 (3 s-30 min)",  \
	 .confidence = "M"},                                                                       \
	{ID(P, "carousel", "min_images"), .kind = PF_MEDIA_MIN, .unit = PF_U_ITEMS, .min = 2,        \
	 .scope = PF_FIRST_ITEM, .cond = "post_as_images_carousel=true",                           \
	 .message = "a carousel needs at least {limit} images; this post has {actual}",            \
	 .remediation = "Attach at least {limit} images, or turn post_as_images_carousel off.",     \
	 .source = POSTIZ3 " (carousel needs >= 2 images and no video)", .confidence = "C"},         \
	{ID(P, "carousel", "no_video"), .kind = PF_VIDEOS_MAX, .unit = PF_U_ITEMS, .max = 0,         \
	 .scope = PF_FIRST_ITEM, .cond = "post_as_images_carousel=true",                           \
	 .message = "a carousel takes images only; this post has {actual} videos",                 \
	 .remediation = "Remove the video, or turn post_as_images_carousel off.",                  \
	 .source = POSTIZ3 " (carousel needs >= 2 images and no video)", .confidence = "C"},         \
	{ID(P, "comment", "no_media"), .kind = PF_MEDIA_MAX, .unit = PF_U_ITEMS, .max = 0,           \
	 .scope = PF_LATER_ITEMS,                                                                  \
	 .message = "comments on {name} are text only; this one has {actual} media items",         \
	 .remediation = "Remove the media from this comment (value[] item), or put it in the post.", \
	 .source = POSTIZ3 " (comments are text only)", .confidence = "C"}

#define INSTAGRAM_RULES(P)                                                                       \
	{ID(P, "text", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 2200,         \
	 .source = POSTIZ3 " (2200); platforms.md section 7", .confidence = "C"},                   \
	{ID(P, "text", "max_hashtags"), .kind = PF_HASHTAGS_MAX, .unit = PF_U_HASHTAGS, .max = 30,   \
	 .source = "platforms.md section 7 (<= 30 hashtags); " LMP4 " (Ayrshare)", .confidence = "M"}, \
	{ID(P, "media", "required"), .kind = PF_MEDIA_REQUIRED, .unit = PF_U_ITEMS, .min = 1,        \
	 .scope = PF_FIRST_ITEM, .source = POSTIZ3 " (>= 1 media); " LMP14 " instagram.media.required", \
	 .confidence = "C"},                                                                       \
	{ID(P, "media", "max_count"), .kind = PF_MEDIA_MAX, .unit = PF_U_ITEMS, .max = 10,           \
	 .scope = PF_FIRST_ITEM, .source = POSTIZ3 " (<= 10); platforms.md section 7 (carousel 2-10)", \
	 .confidence = "V"},                                                                       \
	{ID(P, "media", "allowed_mime"), .kind = PF_MIME_ALLOWED, .unit = PF_U_MIME,                \
	 .scope = PF_FIRST_ITEM, .arg = "image/jpeg,video/mp4,video/quicktime",                     \
	 .source = LMP14 " (JPEG only; PNG is accepted on newer API versions [M])", .confidence = "C"}, \
	{ID(P, "image", "max_bytes"), .kind = PF_MAX_BYTES, .unit = PF_U_BYTES, .max = 8 * MB,       \
	 .scope = PF_FIRST_ITEM, .arg = "image/", .source = LMP14 " (8 MB); platforms.md section 7", \
	 .confidence = "C"},                                                                       \
	{ID(P, "image", "aspect_ratio"), .kind = PF_ASPECT_RATIO, .unit = PF_U_RATIO, .min = 0.8,    \
	 .max = 1.91, .scope = PF_FIRST_ITEM, .arg = "image/",                                     \
	 .source = "platforms.md section 7 (feed 4:5 to 1.91:1)", .confidence = "M"},               \
	{ID(P, "video", "max_bytes"), .kind = PF_MAX_BYTES, .unit = PF_U_BYTES, .max = 300 * MB,     \
	 .scope = PF_FIRST_ITEM, .arg = "video/",                                                  \
	 .source = "platforms.md section 7 (reels <= 300 MB; letmepost says 1 GB: the lower is used)", \
	 .confidence = "M"},                                                                       \
	{ID(P, "video", "min_duration"), .kind = PF_MIN_DURATION, .unit = PF_U_SECONDS, .min = 3,    \
	 .scope = PF_FIRST_ITEM, .arg = "video/", .source = "platforms.md section 7 (reels 3 s-15 min)", \
	 .confidence = "M"},                                                                       \
	{ID(P, "video", "max_duration"), .kind = PF_MAX_DURATION, .unit = PF_U_SECONDS, .max = 900,  \
	 .scope = PF_FIRST_ITEM, .arg = "video/",                                                  \
	 .source = "platforms.md section 7 (reels 3 s-15 min; letmepost's constant says 90 s)",     \
	 .confidence = "M"},                                                                       \
	{ID(P, "comment", "no_media"), .kind = PF_MEDIA_MAX, .unit = PF_U_ITEMS, .max = 0,           \
	 .scope = PF_LATER_ITEMS,                                                                  \
	 .message = "comments on {name} are text only; this one has {actual} media items",         \
	 .remediation = "Remove the media from this comment (value[] item), or put it in the post.", \
	 .source = "platforms.md section 7 (first comment: POST /{media-id}/comments?message=)",    \
	 .confidence = "C"}

#define TIKTOK_RULES(P)                                                                          \
	{ID(P, "text", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 2200,         \
	 .source = "platforms.md section 14 (2,200 UTF-16 units; Postiz's tiktok uses 2000, "        \
		   "tiktok-business 2200)",                                                      \
	 .confidence = "C"},                                                                       \
	{ID(P, "text", "max_hashtags"), .kind = PF_HASHTAGS_MAX, .unit = PF_U_HASHTAGS, .max = 100,  \
	 .source = LMP14 " tiktok.text.hashtag_max", .confidence = "C"},                            \
	{ID(P, "title", "max_length"), .kind = PF_SETTING_MAX, .unit = PF_U_UTF16, .max = 90,        \
	 .arg = "title", .source = POSTIZ3 " (TikTokDto title <= 90); platforms.md section 14",     \
	 .confidence = "C"},                                                                       \
	{ID(P, "media", "required"), .kind = PF_MEDIA_REQUIRED, .unit = PF_U_ITEMS, .min = 1,        \
	 .source = POSTIZ3 " (>= 1 media)", .confidence = "C"},                                     \
	{ID(P, "media", "max_images"), .kind = PF_IMAGES_MAX, .unit = PF_U_ITEMS, .max = 35,         \
	 .source = POSTIZ3 " (<= 35 images); platforms.md section 14", .confidence = "C"},          \
	{ID(P, "video", "alone"), .kind = PF_SOLO, .unit = PF_U_ITEMS, .arg = "video/",             \
	 .source = POSTIZ3 " (a video must be alone); " LMP14 " tiktok.media.single_only",         \
	 .confidence = "C"},                                                                       \
	{ID(P, "media", "allowed_mime"), .kind = PF_MIME_ALLOWED, .unit = PF_U_MIME,                \
	 .arg = "video/mp4,video/quicktime,video/mpeg,video/x-msvideo,video/x-flv,video/webm,"     \
		"image/jpeg,image/webp",                                                          \
	 .source = LMP14 " TIKTOK_ALLOWED_VIDEO_MIMES; photo formats JPEG/WebP [M]",               \
	 .confidence = "C"},                                                                       \
	{ID(P, "video", "max_bytes"), .kind = PF_MAX_BYTES, .unit = PF_U_BYTES, .max = 4 * GB,       \
	 .arg = "video/", .source = LMP14 " (4 GB)", .confidence = "C"},                           \
	{ID(P, "video", "min_duration"), .kind = PF_MIN_DURATION, .unit = PF_U_SECONDS, .min = 3,    \
	 .arg = "video/", .source = LMP14 " (3-600 s)", .confidence = "C"},                        \
	{ID(P, "video", "max_duration"), .kind = PF_MAX_DURATION, .unit = PF_U_SECONDS, .max = 600,  \
	 .arg = "video/", .source = LMP14 " (3-600 s; creator_info may lower it)", .confidence = "C"}, \
	{ID(P, "video", "min_short_edge"), .kind = PF_MIN_SHORT_EDGE, .unit = PF_U_PIXELS,           \
	 .min = 540, .arg = "video/", .source = LMP14 " (minimum short edge 540 px)",              \
	 .confidence = "C"}

static const struct pf_rule table[] = {
	/* ---- X ---- */
	{ID("x", "text", "max_weighted_length"), .kind = PF_TEXT_MAX, .unit = PF_U_X_WEIGHTED,
	 .max = TEXT_X_MAX_WEIGHTED, .cond = "post_type!=article",
	 .remediation = "Shorten the text by at least {excess}, or split it into a thread (value[] items).",
	 .source = "platforms.md section 3, twitter-text config/v3.json (Premium 25,000 and Postiz's "
		   "4,000 for verified accounts are not known to herald)",
	 .confidence = "V"},
	{ID("x", "text", "non_empty"), .kind = PF_TEXT_OR_MEDIA, .cond = "post_type!=article",
	 .source = LMP14 " twitter.text.non_empty", .confidence = "C"},
	{ID("x", "media", "max_images"), .kind = PF_IMAGES_MAX, .unit = PF_U_ITEMS, .max = 4,
	 .source = "platforms.md section 3 (4 photos / 1 GIF / 1 video)", .confidence = "V"},
	{ID("x", "media", "max_videos"), .kind = PF_VIDEOS_MAX, .unit = PF_U_ITEMS, .max = 1,
	 .source = "platforms.md section 3 (4 photos / 1 GIF / 1 video)", .confidence = "V"},
	{ID("x", "media", "image_video_exclusive"), .kind = PF_IMAGE_VIDEO_EXCLUSIVE,
	 .source = "platforms.md section 3; " LMP14 " twitter.media.image_video_exclusive",
	 .confidence = "V"},
	{ID("x", "gif", "alone"), .kind = PF_SOLO, .unit = PF_U_ITEMS, .arg = "image/gif",
	 .source = "platforms.md section 3 (4 photos / 1 GIF / 1 video)", .confidence = "V"},
	{ID("x", "media", "allowed_mime"), .kind = PF_MIME_ALLOWED, .unit = PF_U_MIME,
	 .arg = "image/jpeg,image/png,image/webp,image/gif,video/mp4", .source = LMP14,
	 .confidence = "C"},
	{ID("x", "image", "max_bytes"), .kind = PF_MAX_BYTES, .unit = PF_U_BYTES, .max = 5 * MB,
	 .arg = "image/jpeg,image/png,image/webp", .source = "platforms.md section 3 (image 5 MB)",
	 .confidence = "V"},
	{ID("x", "gif", "max_bytes"), .kind = PF_MAX_BYTES, .unit = PF_U_BYTES, .max = 15 * MB,
	 .arg = "image/gif", .source = "platforms.md section 3 (GIF 15 MB)", .confidence = "V"},
	{ID("x", "video", "max_bytes"), .kind = PF_MAX_BYTES, .unit = PF_U_BYTES, .max = 512 * MB,
	 .arg = "video/", .source = "platforms.md section 3 (video 512 MB)", .confidence = "V"},
	{ID("x", "video", "min_duration"), .kind = PF_MIN_DURATION, .unit = PF_U_SECONDS, .min = 0.5,
	 .arg = "video/", .source = "platforms.md section 3 (0.5-140 s, standard accounts)",
	 .confidence = "M"},
	{ID("x", "video", "max_duration"), .kind = PF_MAX_DURATION, .unit = PF_U_SECONDS, .max = 140,
	 .arg = "video/", .source = "platforms.md section 3 (0.5-140 s, standard accounts)",
	 .confidence = "M"},
	{ID("x", "article", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 100000,
	 .cond = "post_type=article", .source = POSTIZ3 " (100000 for post_type=article)",
	 .confidence = "C"},
	{ID("x", "article", "images_only"), .kind = PF_VIDEOS_MAX, .unit = PF_U_ITEMS, .max = 0,
	 .cond = "post_type=article",
	 .message = "an X article takes images only; this one has {actual} videos",
	 .remediation = "Remove the videos, or post them as an ordinary post.",
	 .source = POSTIZ3 " (articles: images only)", .confidence = "C"},

	/* ---- LinkedIn ---- */
	LINKEDIN_RULES("linkedin"),
	LINKEDIN_RULES("linkedin-page"),

	/* ---- Reddit ---- */
	{ID("reddit", "text", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 10000,
	 .source = POSTIZ3 " (10000; Reddit's self text allows 40,000 [M], Ayrshare says 5,000)",
	 .confidence = "C"},
	{ID("reddit", "title", "max_length"), .kind = PF_SETTING_MAX, .unit = PF_U_UTF16, .max = 300,
	 .arg = "subreddit[].value.title", .source = "platforms.md section 11 (title <= 300)",
	 .confidence = "M"},
	{ID("reddit", "media", "allowed_mime"), .kind = PF_MIME_ALLOWED, .unit = PF_U_MIME,
	 .scope = PF_FIRST_ITEM, .arg = "image/jpeg,image/png,image/gif,video/mp4,video/quicktime",
	 .source = LMP4 " (orshot: jpeg, png, gif); videos mp4/mov", .confidence = "M"},
	{ID("reddit", "image", "max_bytes"), .kind = PF_MAX_BYTES, .unit = PF_U_BYTES, .max = 20 * MB,
	 .scope = PF_FIRST_ITEM, .arg = "image/", .source = LMP4 " (orshot: 20 MB)",
	 .confidence = "M"},
	{ID("reddit", "comment", "no_media"), .kind = PF_MEDIA_MAX, .unit = PF_U_ITEMS, .max = 0,
	 .scope = PF_LATER_ITEMS,
	 .message = "comments on {name} are text only; this one has {actual} media items",
	 .remediation = "Remove the media from this comment (value[] item), or put it in the post.",
	 .source = "platforms.md section 11 (POST /api/comment takes text)", .confidence = "C"},

	/* ---- Instagram ---- */
	INSTAGRAM_RULES("instagram"),
	INSTAGRAM_RULES("instagram-standalone"),

	/* ---- Facebook ---- */
	{ID("facebook", "text", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 63206,
	 .source = POSTIZ3 " (63206); platforms.md section 6; SPEC 6 (UTF-16 units)",
	 .confidence = "C"},
	{ID("facebook", "text", "preset_max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16,
	 .max = 130, .cond = "text_format_preset_id",
	 .message = "the text is {actual} {unit}; {name} shows a background preset only on texts of "
		    "at most {limit}",
	 .remediation = "Shorten the text by {excess}, or remove text_format_preset_id.",
	 .source = POSTIZ3 " (text_format_preset_id, <= 130 chars); platforms.md section 6",
	 .confidence = "C"},
	{ID("facebook", "text", "non_empty"), .kind = PF_TEXT_OR_MEDIA,
	 .source = LMP14 " facebook.text.required", .confidence = "C"},
	{ID("facebook", "media", "max_images"), .kind = PF_IMAGES_MAX, .unit = PF_U_ITEMS, .max = 10,
	 .scope = PF_FIRST_ITEM, .source = LMP4 " (10 photos, or 1 video; Ayrshare, orshot)",
	 .confidence = "M"},
	{ID("facebook", "media", "max_videos"), .kind = PF_VIDEOS_MAX, .unit = PF_U_ITEMS, .max = 1,
	 .scope = PF_FIRST_ITEM, .source = LMP14 " (images or 1 video)", .confidence = "C"},
	{ID("facebook", "media", "image_video_exclusive"), .kind = PF_IMAGE_VIDEO_EXCLUSIVE,
	 .scope = PF_FIRST_ITEM, .source = LMP14 " (images or 1 video, never both)",
	 .confidence = "C"},
	{ID("facebook", "media", "allowed_mime"), .kind = PF_MIME_ALLOWED, .unit = PF_U_MIME,
	 .scope = PF_FIRST_ITEM,
	 .arg = "image/jpeg,image/png,image/gif,image/webp,video/mp4,video/quicktime", .source = LMP14,
	 .confidence = "C"},
	{ID("facebook", "image", "max_bytes"), .kind = PF_MAX_BYTES, .unit = PF_U_BYTES, .max = 4 * MB,
	 .scope = PF_FIRST_ITEM, .arg = "image/", .source = LMP14 " (4 MB)", .confidence = "C"},
	{ID("facebook", "video", "max_bytes"), .kind = PF_MAX_BYTES, .unit = PF_U_BYTES, .max = 4 * GB,
	 .scope = PF_FIRST_ITEM, .arg = "video/", .source = LMP14 " (4 GB)", .confidence = "C"},
	{ID("facebook", "story", "media_required"), .kind = PF_MEDIA_REQUIRED, .unit = PF_U_ITEMS,
	 .min = 1, .scope = PF_FIRST_ITEM, .cond = "post_type=story",
	 .message = "a {name} story needs an image or a video",
	 .remediation = "Attach media, or set post_type to \"post\".",
	 .source = POSTIZ3 " (stories need >= 1 media)", .confidence = "C"},

	/* ---- Threads ---- */
	{ID("threads", "text", "max_characters"), .kind = PF_TEXT_MAX, .unit = PF_U_THREADS,
	 .max = 500,
	 .source = "platforms.md section 4 (500 characters, emoji counted as their UTF-8 bytes); "
		   "letmepost counts graphemes",
	 .confidence = "V"},
	{ID("threads", "text", "non_empty"), .kind = PF_TEXT_OR_MEDIA,
	 .source = LMP14 " (text required when there is no media)", .confidence = "C"},
	{ID("threads", "media", "max_count"), .kind = PF_MEDIA_MAX, .unit = PF_U_ITEMS, .max = 20,
	 .source = "platforms.md section 4 (carousel 2-20)", .confidence = "V"},
	{ID("threads", "media", "allowed_mime"), .kind = PF_MIME_ALLOWED, .unit = PF_U_MIME,
	 .arg = "image/jpeg,image/png,video/mp4,video/quicktime",
	 .source = "platforms.md section 4 (JPEG/PNG, MOV/MP4; letmepost also allows webp)",
	 .confidence = "V"},
	{ID("threads", "image", "max_bytes"), .kind = PF_MAX_BYTES, .unit = PF_U_BYTES, .max = 8 * MB,
	 .arg = "image/", .source = "platforms.md section 4", .confidence = "V"},
	{ID("threads", "image", "min_width"), .kind = PF_MIN_WIDTH, .unit = PF_U_PIXELS, .min = 320,
	 .arg = "image/", .source = "platforms.md section 4 (width 320-1440)", .confidence = "V"},
	{ID("threads", "image", "max_width"), .kind = PF_MAX_WIDTH, .unit = PF_U_PIXELS, .max = 1440,
	 .arg = "image/", .source = "platforms.md section 4 (width 320-1440)", .confidence = "V"},
	{ID("threads", "video", "max_bytes"), .kind = PF_MAX_BYTES, .unit = PF_U_BYTES, .max = 1 * GB,
	 .arg = "video/", .source = "platforms.md section 4", .confidence = "V"},
	{ID("threads", "video", "max_duration"), .kind = PF_MAX_DURATION, .unit = PF_U_SECONDS,
	 .max = 300, .arg = "video/", .source = "platforms.md section 4", .confidence = "V"},

	/* ---- YouTube ---- */
	{ID("youtube", "text", "max_bytes"), .kind = PF_TEXT_MAX, .unit = PF_U_BYTES, .max = 5000,
	 .message = "the description is {actual} {unit}; {name} allows {limit}",
	 .remediation = "Shorten the description by {excess} bytes (non-ASCII characters take 2-4).",
	 .source = "platforms.md section 13 (description <= 5000 bytes); " LMP4 " (CoSchedule); "
		   POSTIZ3 " (5000)",
	 .confidence = "M"},
	{ID("youtube", "text", "no_angle_brackets"), .kind = PF_TEXT_FORBIDDEN, .arg = "<>",
	 .message = "the description contains '{found}'; {name} refuses '<' and '>' in descriptions",
	 .remediation = "Remove the characters < and > from the text.",
	 .source = "platforms.md section 13 (no < or >)", .confidence = "M"},
	{ID("youtube", "title", "max_length"), .kind = PF_SETTING_MAX, .unit = PF_U_UTF16, .max = 100,
	 .arg = "title", .source = POSTIZ3 " (title 2-100); platforms.md section 13",
	 .confidence = "C"},
	{ID("youtube", "media", "exactly_one_video"), .kind = PF_EXACTLY_ONE, .unit = PF_U_ITEMS,
	 .arg = "video/", .source = POSTIZ3 " (exactly 1 media, and it must be mp4)",
	 .confidence = "C"},
	{ID("youtube", "media", "allowed_mime"), .kind = PF_MIME_ALLOWED, .unit = PF_U_MIME,
	 .arg = "video/mp4", .source = POSTIZ3 " (must be mp4)", .confidence = "C"},
	{ID("youtube", "video", "max_bytes"), .kind = PF_MAX_BYTES, .unit = PF_U_BYTES, .max = 256 * GB,
	 .arg = "video/", .source = "platforms.md section 13 (256 GB / 12 h)", .confidence = "M"},
	{ID("youtube", "video", "max_duration"), .kind = PF_MAX_DURATION, .unit = PF_U_SECONDS,
	 .max = 43200, .arg = "video/",
	 .source = "platforms.md section 13 (12 h; unverified channels 15 min)", .confidence = "M"},

	/* ---- Google Business Profile ---- */
	{ID("gmb", "text", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 1500,
	 .source = POSTIZ3 " (1500); " LMP4 " (Ayrshare 1,500)", .confidence = "C"},
	{ID("gmb", "media", "max_count"), .kind = PF_MEDIA_MAX, .unit = PF_U_ITEMS, .max = 1,
	 .source = POSTIZ3 " (<= 1 image, no video)", .confidence = "C"},
	{ID("gmb", "media", "no_video"), .kind = PF_VIDEOS_MAX, .unit = PF_U_ITEMS, .max = 0,
	 .message = "{name} posts take one image and no video; this one has {actual} videos",
	 .remediation = "Replace the video with an image.",
	 .source = POSTIZ3 " (<= 1 image, no video)", .confidence = "C"},
	{ID("gmb", "event_title", "max_length"), .kind = PF_SETTING_MAX, .unit = PF_U_UTF16, .max = 58,
	 .arg = "eventTitle", .source = LMP4 " (Ayrshare: event title 58)", .confidence = "M"},
	{ID("gmb", "coupon_code", "max_length"), .kind = PF_SETTING_MAX, .unit = PF_U_UTF16, .max = 58,
	 .arg = "offerCouponCode", .source = LMP4 " (Ayrshare: coupon code 58)", .confidence = "M"},

	/* ---- TikTok ---- */
	TIKTOK_RULES("tiktok"),
	TIKTOK_RULES("tiktok-business"),

	/* ---- Pinterest ---- */
	{ID("pinterest", "text", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 500,
	 .source = POSTIZ3 " (500); platforms.md section 12", .confidence = "C"},
	{ID("pinterest", "title", "max_length"), .kind = PF_SETTING_MAX, .unit = PF_U_UTF16, .max = 100,
	 .arg = "title", .source = POSTIZ3 " (title <= 100); platforms.md section 12",
	 .confidence = "C"},
	{ID("pinterest", "media", "required"), .kind = PF_MEDIA_REQUIRED, .unit = PF_U_ITEMS, .min = 1,
	 .source = POSTIZ3 " (>= 1 and <= 5 media)", .confidence = "C"},
	{ID("pinterest", "media", "max_count"), .kind = PF_MEDIA_MAX, .unit = PF_U_ITEMS, .max = 5,
	 .source = POSTIZ3 " (>= 1 and <= 5 media; letmepost allows exactly one)",
	 .confidence = "C"},
	{ID("pinterest", "media", "allowed_mime"), .kind = PF_MIME_ALLOWED, .unit = PF_U_MIME,
	 .arg = "image/jpeg,image/png,image/webp,video/mp4,video/quicktime,video/x-m4v",
	 .source = LMP14, .confidence = "C"},
	{ID("pinterest", "image", "max_bytes"), .kind = PF_MAX_BYTES, .unit = PF_U_BYTES, .max = 20 * MB,
	 .arg = "image/", .source = LMP14 " (20 MB; orshot says 32 MB)", .confidence = "C"},
	{ID("pinterest", "video", "max_bytes"), .kind = PF_MAX_BYTES, .unit = PF_U_BYTES, .max = 2 * GB,
	 .arg = "video/", .source = LMP14 " (2 GB)", .confidence = "C"},
	{ID("pinterest", "video", "min_duration"), .kind = PF_MIN_DURATION, .unit = PF_U_SECONDS,
	 .min = 4, .arg = "video/", .source = "platforms.md section 12 (4 s-15 min)",
	 .confidence = "M"},
	{ID("pinterest", "video", "max_duration"), .kind = PF_MAX_DURATION, .unit = PF_U_SECONDS,
	 .max = 900, .arg = "video/", .source = "platforms.md section 12 (4 s-15 min)",
	 .confidence = "M"},

	/* ---- Dribbble ---- */
	{ID("dribbble", "text", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 40000,
	 .source = POSTIZ3 " (40000)", .confidence = "C"},
	{ID("dribbble", "media", "exactly_one_image"), .kind = PF_EXACTLY_ONE, .unit = PF_U_ITEMS,
	 .arg = "image/", .source = POSTIZ3 " (exactly 1 image, no mp4)", .confidence = "C"},
	{ID("dribbble", "media", "allowed_mime"), .kind = PF_MIME_ALLOWED, .unit = PF_U_MIME,
	 .arg = "image/gif,image/jpeg,image/png", .source = "platforms.md section 18 (GIF/JPG/PNG)",
	 .confidence = "M"},
	{ID("dribbble", "image", "max_bytes"), .kind = PF_MAX_BYTES, .unit = PF_U_BYTES, .max = 8 * MB,
	 .arg = "image/", .source = "platforms.md section 18 (<= 8 MB)", .confidence = "M"},
	{ID("dribbble", "image", "dimensions"), .kind = PF_DIMENSIONS_IN, .unit = PF_U_PIXELS,
	 .arg = "400x300,800x600,1600x1200",
	 .source = POSTIZ3 " (400x300 or 800x600); platforms.md section 18 (1600x1200 for 2x)",
	 .confidence = "M"},

	/* ---- Discord ---- */
	{ID("discord", "text", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 2000,
	 .source = "platforms.md section 9 (content <= 2000); herald's discord provider (Postiz "
		   "uses 1980)",
	 .confidence = "M"},
	{ID("discord", "text", "non_empty"), .kind = PF_TEXT_OR_MEDIA,
	 .source = "platforms.md section 9 (content or files)", .confidence = "M"},
	{ID("discord", "media", "max_count"), .kind = PF_MEDIA_MAX, .unit = PF_U_ITEMS, .max = 10,
	 .source = "platforms.md section 9 (<= 10 files)", .confidence = "M"},
	{ID("discord", "media", "max_bytes"), .kind = PF_MAX_BYTES, .unit = PF_U_BYTES, .max = 25 * MIB,
	 .source = "platforms.md section 9 (25 MiB on boosted servers, 10 MiB on others: the "
		   "server's boost is not known, herald's provider fetches up to 25 MiB)",
	 .confidence = "M"},

	/* ---- Slack ---- */
	{ID("slack", "text", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 40000,
	 .source = "platforms.md section 10 (truncated beyond 40,000; keep <= 4,000); herald's "
		   "slack provider (Postiz says 400000)",
	 .confidence = "M"},
	{ID("slack", "media", "max_count"), .kind = PF_MEDIA_MAX, .unit = PF_U_ITEMS, .max = 10,
	 .source = "herald's slack provider (SL_FILES_MAX)", .confidence = "H"},

	/* ---- Kick, Twitch (chat messages) ---- */
	{ID("kick", "text", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 500,
	 .source = POSTIZ3 " (500)", .confidence = "C"},
	{ID("kick", "media", "not_supported"), .kind = PF_MEDIA_MAX, .unit = PF_U_ITEMS, .max = 0,
	 .message = "{name} chat messages carry text only; this one has {actual} media items",
	 .remediation = "Remove the media, or link to it in the text.",
	 .source = POSTIZ3 " (POST /public/v1/chat takes text)", .confidence = "C"},
	{ID("twitch", "text", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 500,
	 .source = POSTIZ3 " (500)", .confidence = "C"},
	{ID("twitch", "media", "not_supported"), .kind = PF_MEDIA_MAX, .unit = PF_U_ITEMS, .max = 0,
	 .message = "{name} chat messages carry text only; this one has {actual} media items",
	 .remediation = "Remove the media, or link to it in the text.",
	 .source = POSTIZ3 " (helix chat messages / announcements take text)", .confidence = "C"},

	/* ---- Mastodon ---- */
	{ID("mastodon", "text", "max_characters"), .kind = PF_TEXT_MAX, .unit = PF_U_MASTODON,
	 .max = 500, .arg = "spoiler_text",
	 .message = "the text (with the content warning) is {actual} {unit}; {name} allows {limit} "
		    "on most instances",
	 .source = "platforms.md section 2 (max_characters 500 default, characters_reserved_per_url "
		   "23; instance-specific)",
	 .confidence = "V"},
	{ID("mastodon", "text", "non_empty"), .kind = PF_TEXT_OR_MEDIA,
	 .source = "platforms.md section 2 (status required unless media_ids)", .confidence = "V"},
	{ID("mastodon", "media", "max_count"), .kind = PF_MEDIA_MAX, .unit = PF_U_ITEMS, .max = 4,
	 .source = "platforms.md section 2 (max_media_attachments 4)", .confidence = "V"},
	{ID("mastodon", "media", "image_video_exclusive"), .kind = PF_IMAGE_VIDEO_EXCLUSIVE,
	 .source = "platforms.md section 2 (no mixing video with images)", .confidence = "V"},
	{ID("mastodon", "media", "max_videos"), .kind = PF_VIDEOS_MAX, .unit = PF_U_ITEMS, .max = 1,
	 .source = "platforms.md section 2", .confidence = "M"},
	{ID("mastodon", "image", "max_bytes"), .kind = PF_MAX_BYTES, .unit = PF_U_BYTES,
	 .max = 16777216, .arg = "image/",
	 .source = "platforms.md section 2 (image_size_limit 16 MiB default)", .confidence = "V"},
	{ID("mastodon", "image", "max_pixels"), .kind = PF_MAX_PIXELS, .unit = PF_U_PIXELS,
	 .max = 33177600, .arg = "image/",
	 .source = "platforms.md section 2 (image_matrix_limit)", .confidence = "V"},
	{ID("mastodon", "video", "max_bytes"), .kind = PF_MAX_BYTES, .unit = PF_U_BYTES,
	 .max = 103809024, .arg = "video/",
	 .source = "platforms.md section 2 (video_size_limit 99 MiB default)", .confidence = "V"},

	/* ---- Bluesky ---- */
	{ID("bluesky", "text", "max_graphemes"), .kind = PF_TEXT_MAX, .unit = PF_U_GRAPHEMES,
	 .max = 300, .source = "platforms.md section 1 (app.bsky.feed.post maxGraphemes 300)",
	 .confidence = "V"},
	{ID("bluesky", "text", "max_bytes"), .kind = PF_TEXT_MAX, .unit = PF_U_BYTES, .max = 3000,
	 .source = "platforms.md section 1 (app.bsky.feed.post maxLength 3000)", .confidence = "V"},
	{ID("bluesky", "text", "non_empty"), .kind = PF_TEXT_OR_MEDIA,
	 .source = "platforms.md section 1 (text may be empty with an embed); " LMP14
		   " bluesky.text.non_empty",
	 .confidence = "V"},
	{ID("bluesky", "media", "max_images"), .kind = PF_IMAGES_MAX, .unit = PF_U_ITEMS, .max = 4,
	 .source = "platforms.md section 1 (app.bsky.embed.images max 4)", .confidence = "V"},
	{ID("bluesky", "media", "max_videos"), .kind = PF_VIDEOS_MAX, .unit = PF_U_ITEMS, .max = 1,
	 .source = "platforms.md section 1 (one video per post)", .confidence = "V"},
	{ID("bluesky", "media", "image_video_exclusive"), .kind = PF_IMAGE_VIDEO_EXCLUSIVE,
	 .source = "platforms.md section 1 (exactly one embed: images or video)", .confidence = "V"},
	{ID("bluesky", "media", "allowed_mime"), .kind = PF_MIME_ALLOWED, .unit = PF_U_MIME,
	 .arg = "image/jpeg,image/png,image/webp,image/gif,video/mp4",
	 .source = LMP14 "; lexicon accepts image/* and video/mp4", .confidence = "C"},
	{ID("bluesky", "image", "max_bytes"), .kind = PF_MAX_BYTES, .unit = PF_U_BYTES,
	 .max = 1000000, .arg = "image/",
	 .source = "platforms.md section 1 (1,000,000 on older PDS/AppViews; the current lexicon "
		   "says 2,000,000: the lower is used)",
	 .confidence = "V"},
	{ID("bluesky", "video", "max_bytes"), .kind = PF_MAX_BYTES, .unit = PF_U_BYTES,
	 .max = 100000000, .arg = "video/",
	 .source = "platforms.md section 1 (100 MB; the current lexicon says 300 MB); " LMP14,
	 .confidence = "V"},

	/* ---- Lemmy ---- */
	{ID("lemmy", "text", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 10000,
	 .source = POSTIZ3 " (10000; the real limit is per instance)", .confidence = "C"},
	{ID("lemmy", "title", "max_length"), .kind = PF_SETTING_MAX, .unit = PF_U_UTF16, .max = 200,
	 .arg = "subreddit[].value.title", .source = "platforms.md section 19 (title <= 200)",
	 .confidence = "M"},
	{ID("lemmy", "media", "first_is_image"), .kind = PF_FIRST_IS, .unit = PF_U_MIME,
	 .scope = PF_FIRST_ITEM, .arg = "image/",
	 .source = POSTIZ3 " (first media must be an image: the cover)", .confidence = "C"},

	/* ---- Farcaster (Postiz "wrapcast") ---- */
	{ID("wrapcast", "text", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 800,
	 .source = POSTIZ3 " (800)", .confidence = "C"},
	{ID("wrapcast", "text", "max_bytes"), .kind = PF_TEXT_MAX, .unit = PF_U_BYTES, .max = 1024,
	 .source = "platforms.md section 20 (320 bytes, 1,024 for long casts: the long-cast limit "
		   "is used)",
	 .confidence = "M"},
	{ID("wrapcast", "media", "max_count"), .kind = PF_MEDIA_MAX, .unit = PF_U_ITEMS, .max = 2,
	 .source = "platforms.md section 20 (2 embeds)", .confidence = "M"},
	{ID("wrapcast", "media", "images_only"), .kind = PF_VIDEOS_MAX, .unit = PF_U_ITEMS, .max = 0,
	 .message = "{name} casts take images only; this one has {actual} videos",
	 .remediation = "Remove the video, or link to it in the text.",
	 .source = POSTIZ3 " (images only)", .confidence = "C"},

	/* ---- Telegram ---- */
	{ID("telegram", "text", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 4096,
	 .when = PF_WITHOUT_MEDIA,
	 .message = "the message is {actual} {unit} after formatting; {name} allows {limit}",
	 .source = "platforms.md section 8 (1-4096 after entity parsing); herald's telegram provider",
	 .confidence = "M"},
	{ID("telegram", "caption", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 1024,
	 .when = PF_WITH_MEDIA,
	 .message = "the text is {actual} {unit}; a {name} caption (text with media) holds {limit}",
	 .remediation = "Shorten the text by {excess}, or put the media in a thread item of its own.",
	 .source = "platforms.md section 8 (caption 0-1024); " LMP4, .confidence = "M"},
	{ID("telegram", "text", "non_empty"), .kind = PF_TEXT_OR_MEDIA,
	 .source = "platforms.md section 8 (text 1-4096)", .confidence = "M"},
	{ID("telegram", "media", "max_count"), .kind = PF_MEDIA_MAX, .unit = PF_U_ITEMS, .max = 10,
	 .source = "platforms.md section 8 (album 2-10 items)", .confidence = "M"},
	{ID("telegram", "image", "max_bytes"), .kind = PF_MAX_BYTES, .unit = PF_U_BYTES, .max = 10 * MB,
	 .arg = "image/", .source = "platforms.md section 8 (uploaded photos <= 10 MB)",
	 .confidence = "M"},
	{ID("telegram", "video", "max_bytes"), .kind = PF_MAX_BYTES, .unit = PF_U_BYTES, .max = 50 * MB,
	 .arg = "video/", .source = "platforms.md section 8 (other uploaded files <= 50 MB)",
	 .confidence = "M"},

	/* ---- Nostr ---- */
	{ID("nostr", "text", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 100000,
	 .source = POSTIZ3 " (100000; relays set their own max_content_length)", .confidence = "C"},

	/* ---- VK ---- */
	{ID("vk", "text", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 2048,
	 .source = POSTIZ3 " (2048; VK itself takes about 16k [M])", .confidence = "C"},
	{ID("vk", "media", "max_count"), .kind = PF_MEDIA_MAX, .unit = PF_U_ITEMS, .max = 10,
	 .source = "platforms.md section 16 (<= 10 attachments)", .confidence = "M"},

	/* ---- long-form and newsletters ---- */
	{ID("medium", "text", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 100000,
	 .source = POSTIZ3 " (100000)", .confidence = "C"},
	{ID("devto", "text", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 100000,
	 .source = POSTIZ3 " (100000)", .confidence = "C"},
	{ID("hashnode", "text", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 10000,
	 .source = POSTIZ3 " (10000)", .confidence = "C"},
	{ID("wordpress", "text", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 100000,
	 .source = POSTIZ3 " (100000)", .confidence = "C"},
	{ID("listmonk", "text", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16,
	 .max = 100000000, .source = POSTIZ3 " (100000000)", .confidence = "C"},

	/* ---- community platforms ---- */
	{ID("moltbook", "text", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 300,
	 .source = POSTIZ3 " (300)", .confidence = "C"},
	{ID("whop", "text", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 50000,
	 .source = POSTIZ3 " (50000)", .confidence = "C"},
	{ID("skool", "text", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 5000,
	 .source = POSTIZ3 " (5000)", .confidence = "C"},
	{ID("mewe", "text", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 63206,
	 .source = POSTIZ3 " (63206)", .confidence = "C"},

	/* ---- Tumblr ---- */
	{ID("tumblr", "text", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 32768,
	 .source = POSTIZ3 " (32768)", .confidence = "C"},
	{ID("tumblr", "media", "max_images"), .kind = PF_IMAGES_MAX, .unit = PF_U_ITEMS, .max = 30,
	 .source = POSTIZ3 " (<= 30 images, <= 1 video)", .confidence = "C"},
	{ID("tumblr", "media", "max_videos"), .kind = PF_VIDEOS_MAX, .unit = PF_U_ITEMS, .max = 1,
	 .source = POSTIZ3 " (<= 30 images, <= 1 video)", .confidence = "C"},
	{ID("tumblr", "tags", "max_length"), .kind = PF_SETTING_MAX, .unit = PF_U_UTF16, .max = 4096,
	 .arg = "tags", .source = POSTIZ3 " (tags string <= 4096)", .confidence = "C"},

	/* ---- herald's own channels ---- */
	{ID("webhook", "text", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 100000,
	 .source = "herald: webhook provider max_length (platforms.md section 21: our own contract)",
	 .confidence = "H"},
	{ID("rss", "text", "max_length"), .kind = PF_TEXT_MAX, .unit = PF_U_UTF16, .max = 100000,
	 .source = "herald: rss provider max_length", .confidence = "H"},
	{ID("rss", "media", "no_video"), .kind = PF_VIDEOS_MAX, .unit = PF_U_ITEMS, .max = 0,
	 .message = "the feed shows media as images; this item has {actual} videos",
	 .remediation = "Remove the video, or link to it in the text.",
	 .source = "herald: rss provider (images become <img> in the entry)", .confidence = "H"},
};

#define NRULES (sizeof(table) / sizeof(table[0]))

size_t pf_rule_count(void)
{
	return NRULES;
}

const struct pf_rule *pf_rule_at(size_t i)
{
	return i < NRULES ? &table[i] : NULL;
}

size_t pf_platform_count(void)
{
	return NPLAT;
}

const char *pf_platform_at(size_t i)
{
	return i < NPLAT ? platforms[i].id : NULL;
}

static const struct pf_platform *platform_find(const char *id)
{
	if (!id)
		return NULL;
	for (size_t i = 0; i < NPLAT; i++)
		if (!strcmp(platforms[i].id, id))
			return &platforms[i];
	return NULL;
}

const char *pf_platform_name(const char *platform)
{
	const struct pf_platform *p = platform_find(platform);
	return p ? p->name : NULL;
}

static const char *const unit_ids[PF_U__COUNT] = {
	[PF_U_NONE] = NULL,
	[PF_U_GRAPHEMES] = "graphemes",
	[PF_U_UTF16] = "utf16_units",
	[PF_U_BYTES] = "bytes",
	[PF_U_CODE_POINTS] = "code_points",
	[PF_U_X_WEIGHTED] = "x_weighted_characters",
	[PF_U_MASTODON] = "mastodon_characters",
	[PF_U_THREADS] = "threads_characters",
	[PF_U_ITEMS] = "items",
	[PF_U_HASHTAGS] = "hashtags",
	[PF_U_SECONDS] = "seconds",
	[PF_U_PIXELS] = "pixels",
	[PF_U_RATIO] = "ratio",
	[PF_U_MIME] = "mime",
};

static const char *const unit_words[PF_U__COUNT] = {
	[PF_U_NONE] = "",
	[PF_U_GRAPHEMES] = "characters (grapheme clusters)",
	[PF_U_UTF16] = "characters (UTF-16 units)",
	[PF_U_BYTES] = "bytes (UTF-8)",
	[PF_U_CODE_POINTS] = "characters (code points)",
	[PF_U_X_WEIGHTED] = "characters as X counts them (a URL is 23, emoji and CJK are 2)",
	[PF_U_MASTODON] = "characters as Mastodon counts them (a URL is 23)",
	[PF_U_THREADS] = "characters as Threads counts them (an emoji is its UTF-8 bytes)",
	[PF_U_ITEMS] = "media items",
	[PF_U_HASHTAGS] = "hashtags",
	[PF_U_SECONDS] = "seconds",
	[PF_U_PIXELS] = "pixels",
	[PF_U_RATIO] = "",
	[PF_U_MIME] = "",
};

const char *pf_unit_name(enum pf_unit u)
{
	return (unsigned)u < PF_U__COUNT ? unit_ids[u] : NULL;
}

static const char *const kind_ids[PF_KIND__COUNT] = {
	[PF_TEXT_MAX] = "text_max",
	[PF_TEXT_OR_MEDIA] = "text_or_media",
	[PF_TEXT_FORBIDDEN] = "text_forbidden_characters",
	[PF_HASHTAGS_MAX] = "hashtags_max",
	[PF_SETTING_MAX] = "setting_max",
	[PF_MEDIA_REQUIRED] = "media_required",
	[PF_MEDIA_MIN] = "media_min",
	[PF_MEDIA_MAX] = "media_max",
	[PF_IMAGES_MAX] = "images_max",
	[PF_VIDEOS_MAX] = "videos_max",
	[PF_IMAGE_VIDEO_EXCLUSIVE] = "image_video_exclusive",
	[PF_SOLO] = "alone",
	[PF_EXACTLY_ONE] = "exactly_one",
	[PF_FIRST_IS] = "first_is",
	[PF_MIME_ALLOWED] = "mime_allowed",
	[PF_MAX_BYTES] = "max_bytes",
	[PF_MIN_DURATION] = "min_duration",
	[PF_MAX_DURATION] = "max_duration",
	[PF_MIN_WIDTH] = "min_width",
	[PF_MAX_WIDTH] = "max_width",
	[PF_MIN_SHORT_EDGE] = "min_short_edge",
	[PF_MAX_PIXELS] = "max_pixels",
	[PF_ASPECT_RATIO] = "aspect_ratio",
	[PF_DIMENSIONS_IN] = "dimensions_in",
};

const char *pf_kind_name(enum pf_kind k)
{
	return (unsigned)k < PF_KIND__COUNT ? kind_ids[k] : NULL;
}

/* Rules whose limit is a minimum (the violation's limit is rule->min). */
static int is_min_kind(enum pf_kind k)
{
	return k == PF_MEDIA_REQUIRED || k == PF_MEDIA_MIN || k == PF_MIN_DURATION ||
	       k == PF_MIN_WIDTH || k == PF_MIN_SHORT_EDGE;
}

static int has_limit(enum pf_kind k)
{
	return k != PF_TEXT_OR_MEDIA && k != PF_TEXT_FORBIDDEN && k != PF_IMAGE_VIDEO_EXCLUSIVE &&
	       k != PF_SOLO && k != PF_FIRST_IS && k != PF_MIME_ALLOWED && k != PF_DIMENSIONS_IN;
}

/* Default message and remediation templates per kind. */
static const struct {
	const char *message, *remediation;
} defaults[PF_KIND__COUNT] = {
	[PF_TEXT_MAX] = {"the {surface} is {actual} {unit}; {name} allows {limit}",
			 "Shorten the {surface} by at least {excess}."},
	[PF_TEXT_OR_MEDIA] = {"the post has no text and no media; {name} needs one of them",
			      "Add text, or attach an image or a video."},
	[PF_TEXT_FORBIDDEN] = {"the {surface} contains '{found}', which {name} refuses",
			       "Remove these characters: {allowed}"},
	[PF_HASHTAGS_MAX] = {"the text has {actual} hashtags; {name} allows {limit}",
			     "Remove at least {excess} hashtags."},
	[PF_SETTING_MAX] = {"settings.{allowed} is {actual} {unit}; {name} allows {limit}",
			    "Shorten settings.{allowed} by at least {excess}."},
	[PF_MEDIA_REQUIRED] = {"{name} needs at least one image or video; this post has none",
			       "Attach an image or a video (the item's image[])."},
	[PF_MEDIA_MIN] = {"there are {actual} media items; {name} needs at least {limit}",
			  "Attach at least {limit} media items."},
	[PF_MEDIA_MAX] = {"there are {actual} media items; {name} allows {limit}",
			  "Remove at least {excess} media items, or spread them over thread items."},
	[PF_IMAGES_MAX] = {"there are {actual} images; {name} allows {limit}",
			   "Remove at least {excess} images, or spread them over thread items."},
	[PF_VIDEOS_MAX] = {"there are {actual} videos; {name} allows {limit}",
			   "Remove at least {excess} videos, or spread them over thread items."},
	[PF_IMAGE_VIDEO_EXCLUSIVE] = {"images and videos are mixed; {name} takes images or a "
				      "video, never both",
				      "Post the video and the images separately (e.g. as thread items)."},
	[PF_SOLO] = {"media {media} ({mime}) must be the only media on {name}; this item has "
		     "{actual}",
		     "Remove the other media, or post them separately."},
	[PF_EXACTLY_ONE] = {"{name} needs exactly one media item of type {allowed}; found {found}",
			    "Attach exactly one {allowed} media item."},
	[PF_FIRST_IS] = {"the first media item is {mime}; {name} needs it to be {allowed}",
			 "Put an image first."},
	[PF_MIME_ALLOWED] = {"media {media} is {mime}; {name} accepts {allowed}",
			     "Convert it to one of {allowed}."},
	[PF_MAX_BYTES] = {"media {media} is {actual} bytes; {name} allows {limit}",
			  "Compress or resize it below {limit} bytes."},
	[PF_MIN_DURATION] = {"video {media} lasts {actual} s; {name} needs at least {limit} s",
			     "Use a longer video."},
	[PF_MAX_DURATION] = {"video {media} lasts {actual} s; {name} allows {limit} s",
			     "Trim it to {limit} s."},
	[PF_MIN_WIDTH] = {"media {media} is {actual} px wide; {name} needs at least {limit}",
			  "Use a larger image."},
	[PF_MAX_WIDTH] = {"media {media} is {actual} px wide; {name} allows {limit}",
			  "Resize it to at most {limit} px wide."},
	[PF_MIN_SHORT_EDGE] = {"media {media} has a shorter side of {actual} px; {name} needs at "
			       "least {limit}",
			       "Use a higher resolution."},
	[PF_MAX_PIXELS] = {"media {media} has {actual} pixels; {name} allows {limit}",
			   "Resize it."},
	[PF_ASPECT_RATIO] = {"media {media} has an aspect ratio of {actual}; {name} accepts {min} to "
			     "{max}",
			     "Crop it to an aspect ratio between {min} and {max}."},
	[PF_DIMENSIONS_IN] = {"image {media} is {found} pixels; {name} accepts {allowed}",
			      "Resize it to one of {allowed}."},
};

static const char *rule_message(const struct pf_rule *r)
{
	return r->message ? r->message : defaults[r->kind].message;
}

static const char *rule_remediation(const struct pf_rule *r)
{
	return r->remediation ? r->remediation : defaults[r->kind].remediation;
}

/* ---- MIME ---- */

static const struct {
	const char *ext, *mime;
} mimes[] = {
	{"jpg", "image/jpeg"},  {"jpeg", "image/jpeg"}, {"jpe", "image/jpeg"},
	{"png", "image/png"},   {"gif", "image/gif"},   {"webp", "image/webp"},
	{"heic", "image/heic"}, {"heif", "image/heif"}, {"avif", "image/avif"},
	{"bmp", "image/bmp"},   {"tif", "image/tiff"},  {"tiff", "image/tiff"},
	{"svg", "image/svg+xml"},
	{"mp4", "video/mp4"},   {"m4v", "video/x-m4v"}, {"mov", "video/quicktime"},
	{"webm", "video/webm"}, {"avi", "video/x-msvideo"}, {"flv", "video/x-flv"},
	{"mpeg", "video/mpeg"}, {"mpg", "video/mpeg"},  {"mkv", "video/x-matroska"},
	{"pdf", "application/pdf"},
};

const char *pf_mime_from_path(const char *path)
{
	if (!path)
		return NULL;
	size_t end = strcspn(path, "?#");
	size_t i = end;
	while (i > 0 && path[i - 1] != '.' && path[i - 1] != '/')
		i--;
	if (i == 0 || path[i - 1] != '.' || end - i == 0 || end - i > 5)
		return NULL;
	for (size_t k = 0; k < sizeof(mimes) / sizeof(mimes[0]); k++)
		if (strlen(mimes[k].ext) == end - i && !strncasecmp(path + i, mimes[k].ext, end - i))
			return mimes[k].mime;
	return NULL;
}

int pf_mime_matches(const char *mime, const char *list)
{
	if (!list || !*list)
		return 1;
	if (!mime)
		return 0;
	size_t ml = strcspn(mime, ";");
	while (ml && mime[ml - 1] == ' ')
		ml--;
	for (const char *p = list; *p;) {
		size_t el = strcspn(p, ",");
		if (el && p[el - 1] == '/') {
			if (ml >= el && !strncasecmp(mime, p, el))
				return 1;
		} else if (el == ml && !strncasecmp(mime, p, el)) {
			return 1;
		}
		p += el;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int is_image(const struct pf_media *m)
{
	return m->mime && !strncasecmp(m->mime, "image/", 6);
}

static int is_video(const struct pf_media *m)
{
	return m->mime && !strncasecmp(m->mime, "video/", 6);
}

/* ---- settings ---- */

/* cond: "key" (present, not null/false/""), "key=value", "key!=value" */
static int cond_holds(const char *cond, json_t *settings)
{
	if (!cond)
		return 1;
	const char *eq = strchr(cond, '=');
	int neg = eq && eq > cond && eq[-1] == '!';
	size_t kl = eq ? (size_t)(eq - cond) - (neg ? 1 : 0) : strlen(cond);
	char key[64];
	if (kl >= sizeof(key))
		return 0;
	memcpy(key, cond, kl);
	key[kl] = 0;
	json_t *v = json_is_object(settings) ? json_object_get(settings, key) : NULL;
	if (!eq)
		return v && !json_is_null(v) && !json_is_false(v) &&
		       !(json_is_string(v) && !json_string_length(v));
	const char *want = eq + 1;
	int match = 0;
	if (json_is_string(v))
		match = !strcmp(json_string_value(v), want);
	else if (json_is_true(v))
		match = !strcmp(want, "true");
	else if (json_is_false(v))
		match = !strcmp(want, "false");
	else if (json_is_integer(v)) {
		char b[32];
		snprintf(b, sizeof(b), "%lld", (long long)json_integer_value(v));
		match = !strcmp(b, want);
	}
	return neg ? !match : match;
}

/* ---- counting ---- */

struct text_ctx {
	const char *s;
	size_t n;
	int have[PF_U__COUNT];
	size_t len[PF_U__COUNT];
	int have_basic;
	struct text_counts basic;
};

static size_t count_unit(enum pf_unit u, const char *s, size_t n)
{
	struct text_counts c;
	switch (u) {
	case PF_U_GRAPHEMES:
		return text_graphemes(s, n);
	case PF_U_UTF16:
		text_basic_counts(s, n, &c);
		return c.utf16;
	case PF_U_BYTES:
		return n;
	case PF_U_CODE_POINTS:
		return text_code_points(s, n);
	case PF_U_X_WEIGHTED:
		return text_x_weighted_length(s, n);
	case PF_U_MASTODON:
		return text_mastodon_length(s, n);
	case PF_U_THREADS:
		return text_threads_length(s, n);
	case PF_U_HASHTAGS:
		return text_hashtags(s, n);
	default:
		return 0;
	}
}

static size_t text_len(struct text_ctx *t, enum pf_unit u)
{
	if (!t->have[u]) {
		if (u == PF_U_UTF16 || u == PF_U_CODE_POINTS) {
			if (!t->have_basic) {
				text_basic_counts(t->s, t->n, &t->basic);
				t->have_basic = 1;
			}
			t->len[u] = u == PF_U_UTF16 ? t->basic.utf16 : t->basic.code_points;
		} else {
			t->len[u] = count_unit(u, t->s, t->n);
		}
		t->have[u] = 1;
	}
	return t->len[u];
}

/* ---- violations ---- */

struct vec {
	struct arena *a;
	struct pf_violation *v;
	size_t n, cap;
};

static struct pf_violation *vec_add(struct vec *x)
{
	if (x->n == x->cap) {
		size_t nc = x->cap ? x->cap * 2 : 8;
		struct pf_violation *nv = arena_alloc(x->a, nc * sizeof(*nv));
		if (x->n)
			memcpy(nv, x->v, x->n * sizeof(*nv));
		x->v = nv;
		x->cap = nc;
	}
	struct pf_violation *p = &x->v[x->n++];
	memset(p, 0, sizeof(*p));
	return p;
}

static void fmt_num(char *b, size_t bl, double v)
{
	if (v == floor(v) && fabs(v) < 1e15)
		snprintf(b, bl, "%.0f", v);
	else
		snprintf(b, bl, "%.2f", v);
}

struct msg_ctx {
	const struct pf_rule *r;
	const char *name;
	double actual;
	long media;
	const char *mime, *found;
};

static void expand(struct buf *b, const char *tpl, const struct msg_ctx *m)
{
	const struct pf_rule *r = m->r;
	for (const char *p = tpl; *p;) {
		if (*p != '{') {
			size_t k = strcspn(p, "{");
			if (buf_add(b, p, k))
				return;
			p += k;
			continue;
		}
		const char *e = strchr(p, '}');
		if (!e) {
			if (buf_adds(b, p))
				return;
			break;
		}
		size_t kl = (size_t)(e - p - 1);
		const char *k = p + 1;
		char num[64];
		const char *out = NULL;
#define KEY(s) (kl == sizeof(s) - 1 && !memcmp(k, s, kl))
		double lim = is_min_kind(r->kind) ? r->min : r->max;
		if (KEY("name")) {
			out = m->name;
		} else if (KEY("surface")) {
			snprintf(num, sizeof(num), "%s", r->surface);
			for (char *c = num; *c; c++)
				if (*c == '_')
					*c = ' ';
			out = num;
		} else if (KEY("actual")) {
			fmt_num(num, sizeof(num), m->actual);
			out = num;
		} else if (KEY("limit")) {
			fmt_num(num, sizeof(num), lim);
			out = num;
		} else if (KEY("min")) {
			fmt_num(num, sizeof(num), r->min);
			out = num;
		} else if (KEY("max")) {
			fmt_num(num, sizeof(num), r->max);
			out = num;
		} else if (KEY("excess")) {
			double ex = m->actual - lim;
			fmt_num(num, sizeof(num), ex > 0 ? ex : 0);
			out = num;
		} else if (KEY("unit")) {
			out = unit_words[r->unit];
		} else if (KEY("media")) {
			snprintf(num, sizeof(num), "%ld", m->media);
			out = num;
		} else if (KEY("mime")) {
			out = m->mime ? m->mime : "of an unknown type";
		} else if (KEY("allowed")) {
			out = r->arg ? r->arg : "";
		} else if (KEY("found")) {
			out = m->found ? m->found : "";
		}
#undef KEY
		if (out) {
			if (buf_adds(b, out))
				return;
		} else if (buf_add(b, p, kl + 2)) {
			return;
		}
		p = e + 1;
	}
}

static void violate(struct vec *x, const struct pf_rule *r, const char *name, long item, long media,
		    double actual, const char *actual_str, const char *found)
{
	struct pf_violation *v = vec_add(x);
	v->rule = r;
	v->id = r->id;
	v->platform = r->platform;
	v->item = item;
	v->media = media;
	v->limit = is_min_kind(r->kind) ? r->min : r->max;
	v->actual = actual;
	v->actual_str = actual_str ? arena_strdup(x->a, actual_str) : NULL;
	v->unit = unit_ids[r->unit];
	struct msg_ctx m = {r, name, actual, media, actual_str, found};
	struct buf b;
	buf_init(&b, 4096);
	expand(&b, rule_message(r), &m);
	v->message = arena_strdup(x->a, b.data ? b.data : "");
	buf_reset(&b);
	expand(&b, rule_remediation(r), &m);
	v->remediation = arena_strdup(x->a, b.data ? b.data : "");
	buf_release(&b);
}

/* Length of each string at settings path `path` ("a.b", "a[].b"). */
static void setting_walk(json_t *v, const char *path, const struct pf_rule *r, const char *name,
			 long item, struct vec *x, int depth)
{
	if (!v || depth > 8)
		return;
	if (!*path) {
		if (!json_is_string(v))
			return;
		size_t len = count_unit(r->unit, json_string_value(v), json_string_length(v));
		if (len > r->max)
			violate(x, r, name, item, -1, (double)len, NULL, NULL);
		return;
	}
	size_t sl = strcspn(path, ".");
	const char *next = path[sl] ? path + sl + 1 : path + sl;
	int arr = sl >= 2 && path[sl - 2] == '[' && path[sl - 1] == ']';
	char key[64];
	size_t kl = arr ? sl - 2 : sl;
	if (kl >= sizeof(key) || !json_is_object(v))
		return;
	memcpy(key, path, kl);
	key[kl] = 0;
	json_t *c = json_object_get(v, key);
	if (!arr) {
		setting_walk(c, next, r, name, item, x, depth + 1);
		return;
	}
	size_t i;
	json_t *e;
	if (json_is_array(c))
		json_array_foreach(c, i, e) setting_walk(e, next, r, name, item, x, depth + 1);
}

static void check_item(const struct pf_target *t, const struct pf_platform *pl, long item,
		       int first, struct vec *x)
{
	const char *raw = t->text ? t->text : "";
	size_t rawn = strlen(raw);
	struct text_ctx tc = {0};
	if (t->text_is_html)
		tc.s = text_from_html(x->a, raw, rawn, &tc.n);
	else
		tc.s = raw, tc.n = rawn;
	const struct pf_media *md = t->nmedia ? t->media : NULL;
	size_t nm = md ? t->nmedia : 0;
	size_t nimg = 0, nvid = 0;
	for (size_t i = 0; i < nm; i++) {
		nimg += is_image(&md[i]);
		nvid += is_video(&md[i]);
	}
	const char *name = pl->name;
	for (size_t ri = 0; ri < NRULES; ri++) {
		const struct pf_rule *r = &table[ri];
		if (strcmp(r->platform, pl->id))
			continue;
		if ((r->scope == PF_FIRST_ITEM && !first) || (r->scope == PF_LATER_ITEMS && first))
			continue;
		if ((r->when == PF_WITH_MEDIA && !nm) || (r->when == PF_WITHOUT_MEDIA && nm))
			continue;
		if (!cond_holds(r->cond, t->settings))
			continue;
		switch (r->kind) {
		case PF_TEXT_MAX: {
			size_t len = text_len(&tc, r->unit);
			if (r->arg && json_is_object(t->settings)) {
				json_t *ex = json_object_get(t->settings, r->arg);
				if (json_is_string(ex))
					len += count_unit(r->unit == PF_U_MASTODON ? PF_U_CODE_POINTS : r->unit,
							  json_string_value(ex), json_string_length(ex));
			}
			if (len > r->max)
				violate(x, r, name, item, -1, (double)len, NULL, NULL);
			break;
		}
		case PF_TEXT_OR_MEDIA:
			if (!nm && text_is_blank(tc.s, tc.n))
				violate(x, r, name, item, -1, 0, NULL, NULL);
			break;
		case PF_TEXT_FORBIDDEN: {
			char found[16];
			size_t nf = 0;
			for (const char *c = r->arg; *c && nf + 2 < sizeof(found); c++)
				if (memchr(tc.s, *c, tc.n) && !memchr(found, *c, nf))
					found[nf++] = *c;
			found[nf] = 0;
			if (nf)
				violate(x, r, name, item, -1, (double)nf, NULL, found);
			break;
		}
		case PF_HASHTAGS_MAX: {
			size_t h = text_len(&tc, PF_U_HASHTAGS);
			if (h > r->max)
				violate(x, r, name, item, -1, (double)h, NULL, NULL);
			break;
		}
		case PF_SETTING_MAX:
			setting_walk(t->settings, r->arg, r, name, item, x, 0);
			break;
		case PF_MEDIA_REQUIRED:
			if (!nm)
				violate(x, r, name, item, -1, 0, NULL, NULL);
			break;
		case PF_MEDIA_MIN:
			if (nm && nm < r->min)
				violate(x, r, name, item, -1, (double)nm, NULL, NULL);
			break;
		case PF_MEDIA_MAX:
			if (nm > r->max)
				violate(x, r, name, item, -1, (double)nm, NULL, NULL);
			break;
		case PF_IMAGES_MAX:
			if (nimg > r->max)
				violate(x, r, name, item, -1, (double)nimg, NULL, NULL);
			break;
		case PF_VIDEOS_MAX:
			if (nvid > r->max)
				violate(x, r, name, item, -1, (double)nvid, NULL, NULL);
			break;
		case PF_IMAGE_VIDEO_EXCLUSIVE:
			if (nimg && nvid)
				violate(x, r, name, item, -1, (double)nm, NULL, NULL);
			break;
		case PF_SOLO:
			if (nm > 1)
				for (size_t i = 0; i < nm; i++)
					if (md[i].mime && pf_mime_matches(md[i].mime, r->arg)) {
						violate(x, r, name, item, (long)i, (double)nm, md[i].mime, NULL);
						break;
					}
			break;
		case PF_EXACTLY_ONE:
			if (nm != 1) {
				char f[48];
				snprintf(f, sizeof(f), "%zu media items", nm);
				violate(x, r, name, item, -1, (double)nm, NULL, f);
			} else if (md[0].mime && !pf_mime_matches(md[0].mime, r->arg)) {
				violate(x, r, name, item, 0, 1, md[0].mime, md[0].mime);
			}
			break;
		case PF_FIRST_IS:
			if (nm && md[0].mime && !pf_mime_matches(md[0].mime, r->arg))
				violate(x, r, name, item, 0, 0, md[0].mime, NULL);
			break;
		case PF_MIME_ALLOWED:
			for (size_t i = 0; i < nm; i++)
				if (md[i].mime && !pf_mime_matches(md[i].mime, r->arg))
					violate(x, r, name, item, (long)i, 0, md[i].mime, NULL);
			break;
		case PF_MAX_BYTES:
		case PF_MIN_DURATION:
		case PF_MAX_DURATION:
		case PF_MIN_WIDTH:
		case PF_MAX_WIDTH:
		case PF_MIN_SHORT_EDGE:
		case PF_MAX_PIXELS:
		case PF_ASPECT_RATIO:
			for (size_t i = 0; i < nm; i++) {
				const struct pf_media *m = &md[i];
				/* a rule for some media types needs the type */
				if (r->arg && *r->arg && !(m->mime && pf_mime_matches(m->mime, r->arg)))
					continue;
				double v = 0;
				int bad = 0;
				switch (r->kind) {
				case PF_MAX_BYTES:
					v = (double)m->bytes;
					bad = m->bytes > 0 && v > r->max;
					break;
				case PF_MIN_DURATION:
					v = m->duration_s;
					bad = v > 0 && v < r->min;
					break;
				case PF_MAX_DURATION:
					v = m->duration_s;
					bad = v > 0 && v > r->max;
					break;
				case PF_MIN_WIDTH:
					v = m->width;
					bad = m->width > 0 && v < r->min;
					break;
				case PF_MAX_WIDTH:
					v = m->width;
					bad = m->width > 0 && v > r->max;
					break;
				case PF_MIN_SHORT_EDGE:
					v = m->width < m->height ? m->width : m->height;
					bad = m->width > 0 && m->height > 0 && v < r->min;
					break;
				case PF_MAX_PIXELS:
					v = (double)m->width * (double)m->height;
					bad = m->width > 0 && m->height > 0 && v > r->max;
					break;
				default: /* PF_ASPECT_RATIO */
					if (m->width > 0 && m->height > 0) {
						v = (double)m->width / (double)m->height;
						/* compare at the precision the limits are given in */
						double rv = floor(v * 100 + 0.5) / 100;
						bad = rv < r->min || rv > r->max;
						v = rv;
					}
					break;
				}
				if (bad)
					violate(x, r, name, item, (long)i, v, m->mime, NULL);
			}
			break;
		case PF_DIMENSIONS_IN:
			for (size_t i = 0; i < nm; i++) {
				const struct pf_media *m = &md[i];
				if (!is_image(m) || m->width <= 0 || m->height <= 0)
					continue;
				char d[48];
				snprintf(d, sizeof(d), "%dx%d", m->width, m->height);
				size_t dl = strlen(d);
				int ok = 0;
				for (const char *p = r->arg; *p;) {
					size_t el = strcspn(p, ",");
					if (el == dl && !memcmp(p, d, dl))
						ok = 1;
					p += el;
					if (*p == ',')
						p++;
				}
				if (!ok)
					violate(x, r, name, item, (long)i, 0, d, d);
			}
			break;
		default:
			break;
		}
	}
}

int pf_check(const struct pf_target *t, struct pf_violation **out, size_t *n, struct arena *a)
{
	*out = NULL;
	*n = 0;
	const struct pf_platform *pl = platform_find(t ? t->platform : NULL);
	if (!pl)
		return -1;
	struct vec x = {.a = a};
	check_item(t, pl, -1, 1, &x);
	*out = x.v;
	*n = x.n;
	return (int)(x.n > 0x7fffffff ? 0x7fffffff : x.n);
}

int pf_check_thread(const struct pf_target *items, size_t nitems, struct pf_violation **out,
		    size_t *n, struct arena *a)
{
	*out = NULL;
	*n = 0;
	if (!nitems)
		return 0;
	const struct pf_platform *pl = platform_find(items[0].platform);
	if (!pl)
		return -1;
	struct vec x = {.a = a};
	/* platforms without comments publish value[0] only */
	size_t upto = pl->thread ? nitems : 1;
	for (size_t i = 0; i < upto; i++)
		check_item(&items[i], pl, (long)i, i == 0, &x);
	*out = x.v;
	*n = x.n;
	return (int)(x.n > 0x7fffffff ? 0x7fffffff : x.n);
}

/* ---- JSON ---- */

static json_t *num_json(double v)
{
	if (v == floor(v) && fabs(v) < 9e15)
		return json_integer((json_int_t)v);
	return json_real(v);
}

static json_t *list_json(const char *list)
{
	json_t *arr = json_array();
	for (const char *p = list ? list : ""; *p;) {
		size_t el = strcspn(p, ",");
		json_array_append_new(arr, json_stringn(p, el));
		p += el;
		if (*p == ',')
			p++;
	}
	return arr;
}

static json_t *limit_json(const struct pf_rule *r)
{
	if (r->kind == PF_MIME_ALLOWED || r->kind == PF_DIMENSIONS_IN)
		return list_json(r->arg);
	if (r->kind == PF_TEXT_FORBIDDEN)
		return json_string(r->arg);
	if (!has_limit(r->kind))
		return json_null();
	return num_json(is_min_kind(r->kind) ? r->min : r->max);
}

json_t *pf_violation_json(const struct pf_violation *v)
{
	const struct pf_rule *r = v->rule;
	json_t *o = json_object();
	json_object_set_new(o, "rule", json_string(v->id));
	json_object_set_new(o, "platform", json_string(v->platform));
	json_object_set_new(o, "surface", json_string(r->surface));
	json_object_set_new(o, "check", json_string(r->check));
	json_object_set_new(o, "limit", limit_json(r));
	if (r->kind == PF_ASPECT_RATIO)
		json_object_set_new(o, "min", num_json(r->min));
	if (v->actual_str && !has_limit(r->kind))
		json_object_set_new(o, "actual", json_string(v->actual_str));
	else
		json_object_set_new(o, "actual", num_json(v->actual));
	json_object_set_new(o, "unit", v->unit ? json_string(v->unit) : json_null());
	if (v->item >= 0)
		json_object_set_new(o, "item", json_integer(v->item));
	if (v->media >= 0)
		json_object_set_new(o, "media", json_integer(v->media));
	json_object_set_new(o, "message", json_string(v->message));
	json_object_set_new(o, "remediation", json_string(v->remediation));
	return o;
}

static const char *scope_names[] = {"every_item", "first_item", "later_items"};
static const char *when_names[] = {"always", "with_media", "without_media"};

json_t *pf_catalog_json(void)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < NRULES; i++) {
		const struct pf_rule *r = &table[i];
		json_t *o = json_object();
		json_object_set_new(o, "id", json_string(r->id));
		json_object_set_new(o, "platform", json_string(r->platform));
		json_object_set_new(o, "surface", json_string(r->surface));
		json_object_set_new(o, "check", json_string(r->check));
		json_object_set_new(o, "kind", json_string(kind_ids[r->kind]));
		json_object_set_new(o, "limit", limit_json(r));
		if (r->kind == PF_ASPECT_RATIO)
			json_object_set_new(o, "min", num_json(r->min));
		json_object_set_new(o, "unit", unit_ids[r->unit] ? json_string(unit_ids[r->unit])
								 : json_null());
		if (r->when != PF_ALWAYS)
			json_object_set_new(o, "when", json_string(when_names[r->when]));
		json_object_set_new(o, "scope", json_string(scope_names[r->scope]));
		if (r->cond)
			json_object_set_new(o, "condition", json_string(r->cond));
		if (r->arg && (r->kind == PF_SETTING_MAX || r->kind == PF_TEXT_MAX))
			json_object_set_new(o, "setting", json_string(r->arg));
		else if (r->arg && *r->arg && r->kind != PF_MIME_ALLOWED &&
			 r->kind != PF_DIMENSIONS_IN && r->kind != PF_TEXT_FORBIDDEN)
			json_object_set_new(o, "appliesTo", list_json(r->arg));
		json_object_set_new(o, "message", json_string(rule_message(r)));
		json_object_set_new(o, "remediation", json_string(rule_remediation(r)));
		json_object_set_new(o, "source", json_string(r->source));
		json_object_set_new(o, "confidence", json_string(r->confidence));
		json_object_set_new(o, "platformName", json_string(pf_platform_name(r->platform)));
		json_array_append_new(arr, o);
	}
	return arr;
}
