/* node/main.c — the `busbar` command: `busbar dev [options]` runs a single-node cluster (one raft
 * voter) with the dev account; `busbar --help` lists every option (config.c's table).
 *
 * Signals: SIGPIPE is ignored before anything else (a dead raft peer must not kill us, deps.md R2);
 * SIGINT/SIGTERM are blocked in every thread and collected with sigwait() here, which then stops the
 * node cleanly (HTTP drains, raft flushes and closes).
 */
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "node.h"

#define BUSBAR_VERSION "0.1.0"

static void usage(FILE *f)
{
	fprintf(f, "usage: busbar dev [options]    run a single-node Busbar (one raft voter) with the dev account\n"
		   "       busbar version\n\noptions:\n");
	config_print_help(f);
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("busbar %s\n", BUSBAR_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "dev") != 0) {
		fprintf(stderr, "busbar: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "busbar: libsodium failed to initialise\n");
		return 1;
	}

	/* --log-level is handled here; everything else goes through the config table. */
	char *rest[256];
	int n_rest = 0;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
		const char *lvl = NULL;
		if (!strncmp(argv[i], "--log-level=", 12))
			lvl = argv[i] + 12;
		else if (!strcmp(argv[i], "--log-level") && i + 1 < argc)
			lvl = argv[++i];
		if (lvl) {
			bb_log_level l;
			if (bb_log_parse_level(lvl, &l) != BB_OK) {
				fprintf(stderr, "busbar: invalid --log-level '%s'\n", lvl);
				return 2;
			}
			bb_log_set_level(l);
			continue;
		}
		if (n_rest >= (int)BB_ARRAY_LEN(rest)) {
			fprintf(stderr, "busbar: too many arguments\n");
			return 2;
		}
		rest[n_rest++] = argv[i];
	}
	const char *env_lvl = getenv("BUSBAR_LOG_LEVEL");
	if (env_lvl) {
		bb_log_level l;
		if (bb_log_parse_level(env_lvl, &l) == BB_OK)
			bb_log_set_level(l);
	}

	node_config cfg;
	node_config_defaults(&cfg);
	char err[512];
	if (config_parse(&cfg, n_rest, rest, err, sizeof err) != 0) {
		fprintf(stderr, "busbar: %s\n", err);
		return 2;
	}

	sigset_t stop_set;
	sigemptyset(&stop_set);
	sigaddset(&stop_set, SIGINT);
	sigaddset(&stop_set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop_set, NULL); /* inherited by every thread started below */

	node *n = NULL;
	bb_err e = node_start(&cfg, &n);
	if (e != BB_OK) {
		fprintf(stderr, "busbar: failed to start: %s\n", bb_strerror(e));
		return 1;
	}
	char host[256];
	snprintf(host, sizeof host, "%s", cfg.listen);
	char *colon = strrchr(host, ':');
	if (colon)
		*colon = '\0';
	printf("Busbar %s is running (single node, region %s, account %s).\n", BUSBAR_VERSION, cfg.region, cfg.account);
	printf("  endpoint:   http://%s:%u\n", host, node_api_port(n));
	printf("  data dir:   %s\n", cfg.data_dir);
	printf("  credentials: access key '%s', secret '%s'\n", cfg.access_key, cfg.secret_key);
	printf("Try:\n  AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_DEFAULT_REGION=%s \\\n"
	       "    aws --endpoint-url http://%s:%u events create-event-bus --name orders\n",
	       cfg.access_key, cfg.secret_key, cfg.region, host, node_api_port(n));
	printf("Stop with Ctrl-C.\n");
	fflush(stdout);

	int sig = 0;
	sigwait(&stop_set, &sig);
	fprintf(stderr, "busbar: %s received, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	node_stop(n);
	return 0;
}
