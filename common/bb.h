/* common/bb.h — the base every Busbar folder builds on: the one error enum, the injectable clock and
 * random source, and structured logging.
 *
 * Design: this folder depends on nothing of ours (libc and libsodium only), so policy/, forward/,
 * raft/ and node/ can all use it without breaking the one-way dependency rule of DESIGN.md §2.
 * Errors: every fallible function in the project returns bb_err (0 = ok); messages come from one
 * table in bb_err.c. Library codes (raft, lmdb, jansson, curl, nng) are translated in one place each,
 * next to the code that calls that library.
 */
#ifndef BB_H
#define BB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* ---- errors ---------------------------------------------------------------------------------- */
typedef enum bb_err {
	BB_OK = 0,
	BB_ENOMEM,        /* allocation failed */
	BB_EINVAL,        /* bad argument or malformed input */
	BB_ENOTFOUND,     /* no such resource */
	BB_EEXIST,        /* resource already exists */
	BB_ECONFLICT,     /* a compare-and-set precondition did not hold */
	BB_ENOTLEADER,    /* this node is not the raft leader */
	BB_ETIMEDOUT,     /* an operation did not complete in time */
	BB_EBUSY,         /* a bounded queue is full: the caller should throttle */
	BB_EIO,           /* an I/O error */
	BB_ENOSPC,        /* the disk is full */
	BB_ECORRUPT,      /* persisted or received data failed validation */
	BB_ESHUTDOWN,     /* the component is shutting down */
	BB_ETOOBIG,       /* input exceeds a configured limit */
	BB_EAUTHMISSING,  /* no credentials on the request */
	BB_EAUTHINCOMPLETE, /* credentials present but malformed */
	BB_EAUTHUNKNOWN,  /* access key id not known */
	BB_EAUTHSIG,      /* signature does not match */
	BB_EAUTHEXPIRED,  /* request time outside the allowed skew */
	BB_EPATTERN,      /* an event pattern is not valid */
	BB_EINTERNAL,     /* a bug or an unexpected library failure */
	BB_ERR_COUNT
} bb_err;

/* Returns a static, human-readable message for e. Thread-safe. */
const char *bb_strerror(bb_err e);
/* Returns the enum's name ("BB_EINVAL") for logs. Thread-safe. */
const char *bb_errname(bb_err e);

/* ---- clock and randomness (DESIGN.md §5.7) --------------------------------------------------- */
/* A clock: wall time for timestamps and SigV4, monotonic time for timeouts. Tests and chaos runs
 * inject their own. Functions must be thread-safe. */
typedef struct bb_clock {
	int64_t (*wall_ms)(void *ctx);  /* ms since the Unix epoch */
	int64_t (*mono_ns)(void *ctx);  /* monotonic ns, arbitrary origin */
	void *ctx;
} bb_clock;

/* The process clock (CLOCK_REALTIME / CLOCK_MONOTONIC). */
extern const bb_clock bb_clock_system;

static inline int64_t bb_wall_ms(const bb_clock *c) { return c->wall_ms(c->ctx); }
static inline int64_t bb_mono_ns(const bb_clock *c) { return c->mono_ns(c->ctx); }

/* Calendar arithmetic (proleptic Gregorian, UTC), exact for any int64 day count in range: days since
 * 1970-01-01 of y-m-d (m 1..12, d 1..31), and back. Pure, thread-safe. */
int64_t bb_days_from_civil(int64_t y, int m, int d);
void bb_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/* A random source. fill() must be thread-safe. */
typedef struct bb_rng {
	void (*fill)(void *ctx, void *buf, size_t len);
	void *ctx;
} bb_rng;

/* The process random source (libsodium randombytes_buf; sodium_init() must have run). */
extern const bb_rng bb_rng_system;

static inline void bb_random(const bb_rng *r, void *buf, size_t len) { r->fill(r->ctx, buf, len); }

/* The value of hex digit c (either case), or -1. */
static inline int bb_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
/* Writes a lowercase RFC 4122 version-4 UUID (36 chars + NUL) into out[37]. */
void bb_uuid4(const bb_rng *r, char out[37]);

/* ---- logging ----------------------------------------------------------------------------------- */
typedef enum bb_log_level { BB_LOG_DEBUG = 0, BB_LOG_INFO, BB_LOG_WARN, BB_LOG_ERROR, BB_LOG_OFF } bb_log_level;

/* Sets the minimum level written (default INFO). Thread-safe. */
void bb_log_set_level(bb_log_level lvl);
/* Parses "debug|info|warn|error|off"; returns BB_EINVAL for anything else. */
bb_err bb_log_parse_level(const char *s, bb_log_level *out);
/* Writes one structured line to stderr: `ts=<iso> level=<lvl> comp=<component> msg="..."` followed by
 * the caller's `key=value` text. Never log payloads or secrets. Thread-safe (one write(2) per line). */
void bb_log(bb_log_level lvl, const char *component, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define BB_LOGD(comp, ...) bb_log(BB_LOG_DEBUG, comp, __VA_ARGS__)
#define BB_LOGI(comp, ...) bb_log(BB_LOG_INFO, comp, __VA_ARGS__)
#define BB_LOGW(comp, ...) bb_log(BB_LOG_WARN, comp, __VA_ARGS__)
#define BB_LOGE(comp, ...) bb_log(BB_LOG_ERROR, comp, __VA_ARGS__)

#define BB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif /* BB_H */
