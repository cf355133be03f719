#include "jsonrpc.h"

#include <stdio.h>
#include <string.h>

json_t *jr_decode(const char *buf, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	/* duplicate keys make "which id / which method" ambiguous: refuse;
	 * any JSON value decodes, so that `1` is an invalid request (-32600)
	 * rather than a parse error */
	json_t *v = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (!v) {
		snprintf(err, errlen, "not valid JSON: %s at line %d column %d", je.text, je.line,
			 je.column);
		return NULL;
	}
	return v;
}

static int id_ok(json_t *id)
{
	if (json_is_string(id))
		return strlen(json_string_value(id)) == json_string_length(id);
	return json_is_integer(id);
}

void jr_classify(json_t *v, struct jr_msg *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = JR_INVALID;
	if (!json_is_object(v)) {
		out->why = "a JSON-RPC message must be an object";
		return;
	}
	json_t *id = json_object_get(v, "id");
	if (id && id_ok(id))
		out->id = id;
	json_t *ver = json_object_get(v, "jsonrpc");
	if (!json_is_string(ver) || strcmp(json_string_value(ver), "2.0") ||
	    json_string_length(ver) != 3) {
		out->why = "\"jsonrpc\" must be \"2.0\"";
		return;
	}
	json_t *method = json_object_get(v, "method");
	if (!method) {
		json_t *res = json_object_get(v, "result"), *err = json_object_get(v, "error");
		if ((res != NULL) != (err != NULL) && out->id) {
			out->kind = JR_RESPONSE;
			return;
		}
		out->why = "the message has neither \"method\" nor exactly one of \"result\" and \"error\" with an id";
		return;
	}
	if (!json_is_string(method) || !json_string_length(method) ||
	    strlen(json_string_value(method)) != json_string_length(method)) {
		out->why = "\"method\" must be a non-empty string";
		return;
	}
	json_t *params = json_object_get(v, "params");
	if (params && !json_is_object(params)) {
		out->why = "\"params\" must be an object";
		return;
	}
	if (id && !out->id) {
		out->why = "\"id\" must be a string or an integer";
		return;
	}
	out->method = json_string_value(method);
	out->params = params;
	out->kind = id ? JR_REQUEST : JR_NOTIFICATION;
}

json_t *jr_result(json_t *id, json_t *result)
{
	json_t *o = json_object();
	json_object_set_new(o, "jsonrpc", json_string("2.0"));
	json_object_set(o, "id", id ? id : json_null());
	json_object_set_new(o, "result", result ? result : json_object());
	return o;
}

json_t *jr_error(json_t *id, int code, const char *message, json_t *data)
{
	json_t *e = json_object();
	json_object_set_new(e, "code", json_integer(code));
	json_object_set_new(e, "message", json_string(message));
	if (data)
		json_object_set_new(e, "data", data);
	json_t *o = json_object();
	json_object_set_new(o, "jsonrpc", json_string("2.0"));
	json_object_set(o, "id", id ? id : json_null());
	json_object_set_new(o, "error", e);
	return o;
}
