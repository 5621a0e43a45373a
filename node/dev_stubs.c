#include "node_int.h"
#include "xform/xform.h"
void xform_free(xform *x) { (void)x; }
bb_err xform_apply(const xform *x, const char *event, size_t len, const xform_ctx *ctx, char **out, size_t *out_len) { (void)x;(void)event;(void)len;(void)ctx;(void)out;(void)out_len; return BB_EINVAL; }
bb_err conn_auth_decorate(const json_t *conn, const char *oauth_token, char ***headers, size_t *n_headers, char **query){(void)conn;(void)oauth_token;*headers=NULL;*n_headers=0;*query=NULL;return BB_OK;}
bb_err conn_oauth_fetch(const json_t *conn, int64_t now_ms, char **token, int64_t *expires_ms, char *err, size_t cap){(void)conn;(void)now_ms;(void)token;(void)expires_ms;(void)err;(void)cap;return BB_EINVAL;}
