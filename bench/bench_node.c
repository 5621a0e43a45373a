/* bench/bench_node.c — a throwaway `busbar dev` for `--start-node`, and /proc readings of a node.
 *
 * Design: the node is a child process on a fresh mkdtemp directory (data in <dir>/data, its stdout and
 * stderr in <dir>/node.log) with free loopback ports for the API and raft, so one bench command gives
 * one figure without touching anything else. Readiness is GET /ready == 200 (a raft leader exists).
 * Stop is SIGTERM and a bounded wait (then SIGKILL); the directory is removed unless the node failed
 * to start, in which case it is kept and named for inspection.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_net.h"

#define NODE_START_TIMEOUT_MS 30000
#define NODE_STOP_TIMEOUT_MS 30000
#define NODE_MAX_EXTRA 32

const char *bench_default_busbar(void)
{
	static char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof path - 16);
	if (n <= 0)
		return "busbar";
	path[n] = '\0';
	char *slash = strrchr(path, '/');
	if (!slash)
		return "busbar";
	strcpy(slash + 1, "busbar");
	return path;
}

int bench_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof a;
	int port = -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &al) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void msleep(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

int bench_node_start(const char *busbar, char **extra, int n_extra, bench_node *n)
{
	memset(n, 0, sizeof *n);
	n->pid = -1;
	if (n_extra > NODE_MAX_EXTRA) {
		fprintf(stderr, "busbar-bench: too many --node-arg\n");
		return -1;
	}
	snprintf(n->dir, sizeof n->dir, "/tmp/busbar-bench-XXXXXX");
	if (!mkdtemp(n->dir)) {
		perror("busbar-bench: mkdtemp");
		return -1;
	}
	int api = bench_free_port(), raft = bench_free_port();
	while (raft == api && raft > 0)
		raft = bench_free_port();
	if (api < 0 || raft < 0) {
		fprintf(stderr, "busbar-bench: no free port\n");
		return -1;
	}
	char data[300], listen[32], raft_listen[32], log[300];
	snprintf(data, sizeof data, "%s/data", n->dir);
	snprintf(log, sizeof log, "%s/node.log", n->dir);
	snprintf(listen, sizeof listen, "127.0.0.1:%d", api);
	snprintf(raft_listen, sizeof raft_listen, "127.0.0.1:%d", raft);
	snprintf(n->endpoint, sizeof n->endpoint, "http://127.0.0.1:%d", api);

	char *argv[16 + NODE_MAX_EXTRA];
	int ac = 0;
	argv[ac++] = (char *)busbar;
	argv[ac++] = "dev";
	argv[ac++] = "--data-dir";
	argv[ac++] = data;
	argv[ac++] = "--listen";
	argv[ac++] = listen;
	argv[ac++] = "--raft-listen";
	argv[ac++] = raft_listen;
	argv[ac++] = "--log-level";
	argv[ac++] = "warn";
	for (int i = 0; i < n_extra; i++)
		argv[ac++] = extra[i];
	argv[ac] = NULL;

	pid_t pid = fork();
	if (pid < 0) {
		perror("busbar-bench: fork");
		return -1;
	}
	if (pid == 0) {
		setpgid(0, 0); /* Ctrl-C reaches the bench, which stops the node in order */
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(busbar, argv);
		fprintf(stderr, "exec %s: %s\n", busbar, strerror(errno));
		_exit(127);
	}
	n->pid = pid;

	bench_endpoint ep;
	char err[256];
	if (bench_endpoint_parse(n->endpoint, &ep, err, sizeof err) != 0) {
		fprintf(stderr, "busbar-bench: %s\n", err);
		goto fail;
	}
	bench_conn c;
	bench_conn_init(&c, &ep, 2000);
	for (int waited = 0; waited < NODE_START_TIMEOUT_MS; waited += 50) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			n->pid = -1;
			fprintf(stderr, "busbar-bench: %s exited during start-up (log: %s)\n", busbar, log);
			bench_conn_free(&c);
			return -1;
		}
		bench_resp r;
		if (bench_http_get(&c, "/ready", &r) == 200) {
			bench_conn_free(&c);
			return 0;
		}
		bench_conn_close(&c);
		msleep(50);
	}
	bench_conn_free(&c);
	fprintf(stderr, "busbar-bench: node not ready after %d ms (log: %s)\n", NODE_START_TIMEOUT_MS, log);
fail:
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	n->pid = -1;
	return -1;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void bench_node_stop(bench_node *n)
{
	if (n->pid > 0) {
		kill(n->pid, SIGTERM);
		int waited = 0, st;
		while (waitpid(n->pid, &st, WNOHANG) == 0) {
			if (waited >= NODE_STOP_TIMEOUT_MS) {
				fprintf(stderr, "busbar-bench: node did not stop in %d ms, killing it\n", NODE_STOP_TIMEOUT_MS);
				kill(n->pid, SIGKILL);
				waitpid(n->pid, &st, 0);
				break;
			}
			msleep(20);
			waited += 20;
		}
		n->pid = -1;
	}
	if (n->dir[0])
		nftw(n->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	n->dir[0] = '\0';
}

int bench_proc_rss(pid_t pid, bench_rss *r)
{
	r->vm_rss_kb = r->rss_anon_kb = r->rss_file_kb = r->vm_hwm_kb = -1;
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		long v;
		if (sscanf(line, "VmRSS: %ld", &v) == 1)
			r->vm_rss_kb = v;
		else if (sscanf(line, "RssAnon: %ld", &v) == 1)
			r->rss_anon_kb = v;
		else if (sscanf(line, "RssFile: %ld", &v) == 1)
			r->rss_file_kb = v;
		else if (sscanf(line, "VmHWM: %ld", &v) == 1)
			r->vm_hwm_kb = v;
	}
	fclose(f);
	return r->vm_rss_kb >= 0 ? 0 : -1;
}

double bench_proc_cpu_s(pid_t pid)
{
	char path[64], buf[2048];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* fields after the command name (which may contain spaces) start after the last ')' */
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	unsigned long long ut = 0, st = 0;
	/* state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- the options every data-plane mode shares -------------------------------------------------- */

void bench_target_defaults(bench_target *t)
{
	memset(t, 0, sizeof *t);
	t->endpoint = "http://127.0.0.1:4010";
	t->cr = bench_dev_creds;
	t->timeout_ms = 30000;
	t->node.pid = -1;
}

bool bench_target_opt(bench_target *t, int argc, char **argv, int *i)
{
	const char *v;
	if (strcmp(argv[*i], "--start-node") == 0) {
		t->start_node = true;
		return true;
	}
	if (bench_opt(argc, argv, i, "--endpoint", &v)) {
		t->endpoint = v;
	} else if (bench_opt(argc, argv, i, "--busbar", &v)) {
		t->busbar = v;
	} else if (bench_opt(argc, argv, i, "--node-arg", &v)) {
		if (t->n_node_args == BENCH_MAX_NODE_ARGS) {
			fprintf(stderr, "busbar-bench: too many --node-arg\n");
			exit(2);
		}
		t->node_args[t->n_node_args++] = (char *)v;
	} else if (bench_opt(argc, argv, i, "--access-key", &v)) {
		t->cr.access_key = v;
	} else if (bench_opt(argc, argv, i, "--secret-key", &v)) {
		t->cr.secret = v;
	} else if (bench_opt(argc, argv, i, "--region", &v)) {
		t->cr.region = v;
	} else if (bench_opt(argc, argv, i, "--timeout-ms", &v)) {
		t->timeout_ms = (int)bench_num("--timeout-ms", v, 1, 3600000);
	} else {
		return false;
	}
	return true;
}

volatile sig_atomic_t bench_interrupted;

static void on_signal(int sig)
{
	(void)sig;
	bench_interrupted = 1;
}

int bench_target_open(bench_target *t)
{
	char err[512];
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	const char *url = t->endpoint;
	if (t->start_node) {
		const char *bin = t->busbar ? t->busbar : bench_default_busbar();
		if (bench_node_start(bin, t->node_args, t->n_node_args, &t->node) != 0)
			return -1;
		url = t->node.endpoint;
		fprintf(stderr, "busbar-bench: started %s (pid %d) at %s, data in %s\n", bin, (int)t->node.pid, url,
			t->node.dir);
	}
	if (bench_endpoint_parse(url, &t->ep, err, sizeof err) != 0) {
		fprintf(stderr, "busbar-bench: %s\n", err);
		bench_target_close(t);
		return -1;
	}
	return 0;
}

void bench_target_close(bench_target *t)
{
	if (t->node.pid > 0)
		bench_node_stop(&t->node);
}
