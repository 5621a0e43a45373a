#include "node_int.h"
#include "xform/xform.h"
void xform_free(xform *x) { (void)x; }
bb_err xform_apply(const xform *x, const char *event, size_t len, const xform_ctx *ctx, char **out, size_t *out_len) { (void)x;(void)event;(void)len;(void)ctx;(void)out;(void)out_len; return BB_EINVAL; }
bb_err sqs_resolve_arn(node *n, meta_snap *s, const char *arn, sqs_ref *out){(void)n;(void)s;(void)arn;(void)out;return BB_ENOTFOUND;}
bb_err sqs_put_txn(node *n, MDB_txn *txn, const sqs_ref *q, const char *body, size_t len, const sqs_attr *attrs, size_t n_attrs, int64_t now_ms, char msg_id[37]){(void)n;(void)txn;(void)q;(void)body;(void)len;(void)attrs;(void)n_attrs;(void)now_ms;(void)msg_id;return BB_ENOTFOUND;}
void sqs_notify(node *n, const sqs_ref *q){(void)n;(void)q;}
bb_err conn_auth_decorate(const json_t *conn, const char *oauth_token, char ***headers, size_t *n_headers, char **query){(void)conn;(void)oauth_token;*headers=NULL;*n_headers=0;*query=NULL;return BB_OK;}
bb_err conn_oauth_fetch(const json_t *conn, int64_t now_ms, char **token, int64_t *expires_ms, char *err, size_t cap){(void)conn;(void)now_ms;(void)token;(void)expires_ms;(void)err;(void)cap;return BB_EINVAL;}
