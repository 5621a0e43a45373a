#pragma once
#include <stdint.h>
#include <stddef.h>
#include "../../common/bb.h"
#include <jansson.h>
typedef struct xform xform;
void xform_free(xform *x);
typedef struct xform_ctx { const char *rule_arn, *rule_name; int64_t ingest_ms; } xform_ctx;
bb_err xform_apply(const xform *x, const char *event, size_t len, const xform_ctx *ctx, char **out, size_t *out_len);
