/*
 * main.c: tavlad's entry point: command line, start-up order, signals and
 * the two-phase shutdown. Also the small `admin` subcommand.
 *
 * Start-up: config (defaults, -c FILE, --NAME VALUE flags) -> logger ->
 * data dir -> certificate (made on first start) -> loop -> store (schema,
 * writer thread) -> listener -> signals -> "tavlad ready" on stdout.
 *
 * Shutdown on SIGINT/SIGTERM, driven by a timer so the loop keeps serving:
 *   DRAIN: refuse new requests; wait for writes in flight to commit and be
 *          acknowledged (at most 5 s);
 *   CLOSE: send every connection what it has queued, then close 1001
 *          (at most 3 s);
 *   STOP:  destroy the lws context and the store inside the loop, let
 *          uv_run return, finish the lws teardown, uv_loop_close() == 0.
 * SIGHUP reloads the TLS certificate and key; connections stay open.
 *
 * The operator commands (admin, backup, restore) run instead of the daemon
 * and live in admin_cli.c. A running daemon holds the data directory's
 * lock (datadir.h) from before the store opens until it exits.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "admin_cli.h"
#include "auth.h"
#include "concepts.h"
#include "config.h"
#include "crypto.h"
#include "datadir.h"
#include "dispatch.h"
#include "export.h"
#include "fault.h"
#include "guard.h"
#include "handlers.h"
#include "log.h"
#include "replica.h"
#include "retention.h"
#include "room.h"
#include "server.h"
#include "store.h"
#include "textan.h"
#include "tls_cert.h"
#include "ws_server.h"

enum phase { RUNNING, DRAIN, CLOSE, STOP };

struct daemon {
	struct tv_server srv;
	struct tv_config cfg;
	uv_loop_t loop;
	uv_signal_t sig_int, sig_term, sig_hup;
	uv_timer_t shutdown_timer;
	enum phase phase;
	int64_t phase_since;
	struct retention *retention;
	int check_cluster; /* --check-cluster */
	char db_path[4200], cert[4200], key[4200];
};

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: tavlad [-c FILE] [--NAME VALUE ...]        run the daemon\n"
		"       tavlad [-c FILE] admin COMMAND ...         accounts, rooms, erasure\n"
		"                                                  (tavlad admin help lists them)\n"
		"       tavlad [-c FILE] backup DEST               online backup of the database\n"
		"       tavlad [-c FILE] restore SRC               replace it (tavlad stopped)\n"
		"       tavlad [-c FILE] --check-cluster           check the NATS cluster (cluster_nats)\n"
		"       tavlad --print-config                      print the example config\n"
		"       tavlad --version | --help\n\n"
		"Settings (config file keys; every one is also a --NAME VALUE flag):\n");
	config_write_help(fp);
}

static int mkdirs(const char *path, mode_t mode)
{
	char buf[4200];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

/* ---- shutdown -------------------------------------------------------------------- */

static void close_handle(uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void shutdown_tick(uv_timer_t *t)
{
	struct daemon *d = t->data;
	struct tv_server *srv = &d->srv;
	int64_t waited = server_now_ms() - d->phase_since;
	if (d->phase == DRAIN && ((store_pending(srv->store) == 0 && replica_pending(srv) == 0) ||
				  waited > 5000)) {
		d->phase = CLOSE;
		d->phase_since = server_now_ms();
		ws_server_stop_accepting(srv->ws);
		return;
	}
	if (d->phase == CLOSE && (ws_server_open(srv->ws) == 0 || waited > 3000)) {
		d->phase = STOP;
		uv_timer_stop(t);
		close_handle((uv_handle_t *)t);
		close_handle((uv_handle_t *)&d->sig_int);
		close_handle((uv_handle_t *)&d->sig_term);
		close_handle((uv_handle_t *)&d->sig_hup);
		retention_stop(d->retention);
		d->retention = NULL;
		ws_server_destroy(srv->ws);
		/* Cluster mode: stop consuming and publishing before the store
		 * closes (what the stream holds beyond is applied next start). */
		replica_close(srv);
		/* Writes have drained; the writer's wake-up handle is the last
		 * thing of ours keeping the loop alive. */
		store_close(srv->store);
		srv->store = NULL;
		room_quiesce_all(srv);
		log_info("daemon.stopping", "phase=stop");
	}
}

static void begin_shutdown(struct daemon *d, int signum)
{
	if (d->phase != RUNNING)
		return;
	log_info("daemon.shutdown", "signal=%d pending_writes=%zu", signum,
		 store_pending(d->srv.store));
	d->srv.stopping = 1;
	d->phase = DRAIN;
	d->phase_since = server_now_ms();
	uv_timer_start(&d->shutdown_timer, shutdown_tick, 0, 20);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct daemon *d = h->data;
	if (signum == SIGHUP) {
		char err[300];
		if (ws_server_reload_cert(d->srv.ws, err, sizeof err)) {
			char q[340];
			log_error("tls.reload_failed", "error=%s", log_quote(q, sizeof q, err));
		} else {
			log_info("tls.reloaded", "cert=%s", d->cert);
		}
		return;
	}
	begin_shutdown(d, signum);
}

/* ---- demo room -------------------------------------------------------------------- */

static void demo_print(struct daemon *d, const char *code)
{
	char pw[64] = "", path[4300];
	snprintf(path, sizeof path, "%s/demo-password", d->cfg.data_dir);
	FILE *f = fopen(path, "r");
	if (f) {
		if (!fgets(pw, sizeof pw, f))
			pw[0] = 0;
		pw[strcspn(pw, "\n")] = 0;
		fclose(f);
	}
	int v6 = strchr(d->cfg.listen_addr, ':') != NULL;
	printf("tavlad demo room=\"Demo workshop\" code=%s moderator=demo password=%s ca=%s\n"
	       "  participants: https://%s%s%s:%d/?code=%s  or  tavla --ca %s join %s \"Your name\"\n",
	       code, pw[0] ? pw : "(see demo-password)", d->cert, v6 ? "[" : "",
	       d->cfg.listen_addr, v6 ? "]" : "", ws_server_port(d->srv.ws), code, d->cert, code);
	fflush(stdout);
}

static void demo_created(struct tv_server *srv, const char *code)
{
	struct daemon *d = (struct daemon *)srv;
	if (!code) {
		log_error("demo.failed", NULL);
		return;
	}
	demo_print(d, code);
}

struct demo_find {
	char code[8];
};

static void demo_room_seen(void *arg, const struct store_room *r)
{
	struct demo_find *f = arg;
	if (!f->code[0] && strcmp(r->title, "Demo workshop") == 0)
		snprintf(f->code, sizeof f->code, "%s", r->code);
}

static int demo_setup(struct daemon *d)
{
	char err[300], org[TV_ID_LEN + 1];
	if (store_admin_org_id(d->db_path, "demo", org, err, sizeof err)) {
		fprintf(stderr, "tavlad: demo: %s\n", err);
		return -1;
	}
	char path[4300];
	snprintf(path, sizeof path, "%s/demo-password", d->cfg.data_dir);
	if (access(path, F_OK) != 0) {
		char pw[16], hash[256];
		if (crypto_random_code(pw) || crypto_random_code(pw + 6))
			return -1;
		if (auth_hash_password(pw, (unsigned)d->cfg.argon2_m_kib, (unsigned)d->cfg.argon2_t,
				       hash, sizeof hash))
			return -1;
		int rc = store_admin_user_add(d->db_path, "demo", "demo", hash, err, sizeof err);
		if (rc && rc != -EEXIST) {
			fprintf(stderr, "tavlad: demo: %s\n", err);
			return -1;
		}
		FILE *f = fopen(path, "w");
		if (f) {
			fchmod(fileno(f), 0600);
			fprintf(f, "%s\n", rc == -EEXIST ? "(unchanged)" : pw);
			fclose(f);
		}
	}
	struct demo_find find = { "" };
	store_room_list(d->srv.store, org, NULL, demo_room_seen, &find);
	snprintf(d->srv.demo_org_id, sizeof d->srv.demo_org_id, "%s", org);
	if (find.code[0]) {
		demo_print(d, find.code);
		return 0;
	}
	return room_ops_create_internal(&d->srv, org, "workshop", "Demo workshop", demo_created);
}

/* ---- start-up --------------------------------------------------------------------- */

/* The words that run an operator command instead of the daemon. */
static int is_command(const char *a)
{
	return strcmp(a, "admin") == 0 || strcmp(a, "backup") == 0 || strcmp(a, "restore") == 0;
}

static int parse_args(struct daemon *d, int argc, char **argv, int *sub)
{
	char err[512];
	*sub = 0;
	/* -c first, so flags override the file whatever their order. */
	for (int i = 1; i < argc; i++) {
		if (is_command(argv[i]))
			break;
		if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "tavlad: -c needs a file\n");
				return 2;
			}
			if (config_load_file(&d->cfg, argv[i + 1], err, sizeof err)) {
				fprintf(stderr, "tavlad: %s\n", err);
				return 2;
			}
			i++;
		}
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (is_command(a)) {
			*sub = i;
			return 0;
		}
		if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			i++;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 1;
		} else if (strcmp(a, "--version") == 0) {
			printf("tavlad %s (protocol %s)\n", TAVLA_VERSION, TV_PROTOCOL_NAME);
			return 1;
		} else if (strcmp(a, "--check-cluster") == 0) {
			d->check_cluster = 1;
		} else if (strcmp(a, "--print-config") == 0) {
			config_write_example(stdout);
			return 1;
		} else if (strncmp(a, "--", 2) == 0) {
			const char *eq = strchr(a, '=');
			char key[128];
			const char *val;
			if (eq) {
				snprintf(key, sizeof key, "%.*s", (int)(eq - a - 2), a + 2);
				val = eq + 1;
			} else {
				snprintf(key, sizeof key, "%s", a + 2);
				val = i + 1 < argc ? argv[++i] : NULL;
			}
			if (config_set(&d->cfg, key, val, err, sizeof err)) {
				fprintf(stderr, "tavlad: %s\n", err);
				return 2;
			}
		} else {
			fprintf(stderr, "tavlad: unexpected argument \"%s\" (see --help)\n", a);
			return 2;
		}
	}
	return 0;
}

static void free_pending(const char *key, void *value, void *arg)
{
	dispatch_pending_free(value);
}

int main(int argc, char **argv)
{
	static struct daemon d; /* large (paths); one per process */
	int sub, rc;
	fault_init();
	signal(SIGPIPE, SIG_IGN);
	/* Cluster suggestions allocate matrices of many MiB in thread-pool
	 * threads. glibc's adaptive threshold would move such blocks from mmap
	 * into the threads' arenas after the first free, where they stay:
	 * measured, RSS grew from 19 to 147 MiB over 8 suggestions for 2,000
	 * notes. A fixed threshold keeps every block over 1 MiB in its own
	 * mapping, returned to the system when freed. */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	if (config_defaults(&d.cfg)) {
		fprintf(stderr, "tavlad: out of memory\n");
		return 1;
	}
	rc = parse_args(&d, argc, argv, &sub);
	if (rc) {
		config_free(&d.cfg);
		return rc == 1 ? 0 : rc;
	}
	log_set_level((enum tv_log_level)log_level_parse(d.cfg.log_level));
	if (d.check_cluster) {
		rc = replica_check(&d.cfg);
		config_free(&d.cfg);
		return rc;
	}
	if (d.cfg.send_queue_max < 2 * d.cfg.max_message) {
		/* An event can be as large as a message; a queue smaller than two
		 * of them would cut every subscriber off on every large event. */
		fprintf(stderr, "tavlad: send_queue (%lld) must be at least twice max_message (%lld)\n",
			d.cfg.send_queue_max, d.cfg.max_message);
		config_free(&d.cfg);
		return 2;
	}
	if (mkdirs(d.cfg.data_dir, 0700)) {
		fprintf(stderr, "tavlad: cannot create data_dir %s: %s\n", d.cfg.data_dir,
			strerror(errno));
		return 1;
	}
	snprintf(d.db_path, sizeof d.db_path, "%s/tavla.db", d.cfg.data_dir);
	if (sub) {
		const char *cmd = argv[sub];
		if (strcmp(cmd, "backup") == 0)
			rc = admin_cli_backup(&d.cfg, d.db_path, argc - sub, argv + sub);
		else if (strcmp(cmd, "restore") == 0)
			rc = admin_cli_restore(&d.cfg, d.db_path, argc - sub, argv + sub);
		else
			rc = admin_cli_main(&d.cfg, d.db_path, argc - sub, argv + sub);
		config_free(&d.cfg);
		return rc;
	}
	/* Held until exit (the kernel releases it however the process ends). */
	int lock = datadir_lock(d.cfg.data_dir);
	if (lock < 0) {
		if (lock == -EWOULDBLOCK)
			fprintf(stderr, "tavlad: another tavlad is running on %s\n", d.cfg.data_dir);
		else
			fprintf(stderr, "tavlad: cannot lock %s/tavlad.lock: %s\n", d.cfg.data_dir,
				strerror(-lock));
		config_free(&d.cfg);
		return 1;
	}
	if (!dispatch_table_complete()) {
		fprintf(stderr, "tavlad: an op has no handler\n");
		return 1;
	}

	char err[512];
	if (d.cfg.cert_file[0]) {
		snprintf(d.cert, sizeof d.cert, "%s", d.cfg.cert_file);
		snprintf(d.key, sizeof d.key, "%s", d.cfg.key_file);
	} else {
		snprintf(d.cert, sizeof d.cert, "%s/tls/cert.pem", d.cfg.data_dir);
		snprintf(d.key, sizeof d.key, "%s/tls/key.pem", d.cfg.data_dir);
		rc = tls_cert_ensure_selfsigned(d.cert, d.key, err, sizeof err);
		if (rc < 0) {
			fprintf(stderr, "tavlad: %s\n", err);
			return 1;
		}
		if (rc == 1)
			log_info("tls.selfsigned", "cert=%s", d.cert);
	}
	if (tls_cert_check_pair(d.cert, d.key, err, sizeof err)) {
		fprintf(stderr, "tavlad: %s\n", err);
		return 1;
	}

	struct tv_server *srv = &d.srv;
	srv->cfg = &d.cfg;
	srv->loop = &d.loop;
	srv->started_ms = server_now_ms();
	map_init(&srv->rooms_by_id);
	map_init(&srv->conns_by_id);
	map_init(&srv->pending);
	map_init(&srv->guard);
	if (uv_loop_init(&d.loop)) {
		fprintf(stderr, "tavlad: uv_loop_init failed\n");
		return 1;
	}
	struct store_opts so = { d.db_path, strcmp(d.cfg.sync_mode, "full") == 0,
				 (int)d.cfg.commit_batch_max, 100 };
	if (store_open(&srv->store, &d.loop, &so, err, sizeof err)) {
		fprintf(stderr, "tavlad: store: %s\n", err);
		return 1;
	}
	if (d.cfg.cluster_nats[0]) {
		if (replica_open(srv, err, sizeof err)) {
			fprintf(stderr, "tavlad: cluster: %s\n", err);
			store_close(srv->store);
			uv_run(&d.loop, UV_RUN_DEFAULT);
			return 1;
		}
		if (d.cfg.retention_days > 0) {
			/* Each node's store is a cache of the stream: deleting
			 * rooms from one cache would not delete them anywhere. */
			log_warn("cluster.retention_off", "retention_days=%lld", d.cfg.retention_days);
			d.cfg.retention_days = 0;
		}
	}
	if (export_key_init(srv)) {
		fprintf(stderr, "tavlad: no randomness for the export key\n");
		return 1;
	}
	/* Read once, shared read-only by the suggestion workers. */
	srv->lexicon = textan_lexicon_load(TEXTAN_LEXICON_SV);
	log_info("suggest.lexicon", "path=%s words=%zu", TEXTAN_LEXICON_SV,
		 srv->lexicon ? textan_lexicon_size(srv->lexicon) : (size_t)0);
	srv->concepts = concepts_builtin();
	log_info("suggest.concepts", "concepts=%zu patterns=%zu", concepts_count(srv->concepts),
		 concepts_patterns(srv->concepts));
	if (ws_server_start(srv, d.cert, d.key, err, sizeof err)) {
		fprintf(stderr, "tavlad: %s\n", err);
		replica_close(srv);
		store_close(srv->store);
		uv_run(&d.loop, UV_RUN_DEFAULT);
		return 1;
	}
	uv_signal_init(&d.loop, &d.sig_int);
	uv_signal_init(&d.loop, &d.sig_term);
	uv_signal_init(&d.loop, &d.sig_hup);
	uv_timer_init(&d.loop, &d.shutdown_timer);
	d.sig_int.data = d.sig_term.data = d.sig_hup.data = d.shutdown_timer.data = &d;
	uv_signal_start(&d.sig_int, on_signal, SIGINT);
	uv_signal_start(&d.sig_term, on_signal, SIGTERM);
	uv_signal_start(&d.sig_hup, on_signal, SIGHUP);

	int port = ws_server_port(srv->ws);
	int v6 = strchr(d.cfg.listen_addr, ':') != NULL;
	log_info("daemon.ready", "listen=%s port=%d data_dir=%s version=%s", d.cfg.listen_addr,
		 port, d.cfg.data_dir, TAVLA_VERSION);
	printf("tavlad ready url=https://%s%s%s:%d/ ws=wss://%s%s%s:%d/ws\n", v6 ? "[" : "",
	       d.cfg.listen_addr, v6 ? "]" : "", port, v6 ? "[" : "", d.cfg.listen_addr,
	       v6 ? "]" : "", port);
	fflush(stdout);
	if (d.cfg.demo && demo_setup(&d))
		log_error("demo.failed", NULL);
	d.retention = retention_start(srv);

	uv_run(&d.loop, UV_RUN_DEFAULT);

	/* The loop ran dry: the listener is down and no connection is left.
	 * Finish lws's teardown, then the store, and check nothing leaked. */
	while (!ws_server_destroy(srv->ws))
		uv_run(&d.loop, UV_RUN_ONCE);
	replica_close(srv);
	store_close(srv->store); /* NULL unless start-up failed half-way */
	room_unload_all(srv);
	uv_run(&d.loop, UV_RUN_DEFAULT);
	map_each(&srv->pending, free_pending, NULL);
	map_free(&srv->pending);
	map_free(&srv->conns_by_id);
	guard_free(srv);
	textan_lexicon_free(srv->lexicon);
	concepts_free(srv->concepts);
	rc = uv_loop_close(&d.loop);
	if (rc)
		log_error("daemon.loop_not_empty", "rc=%s", uv_err_name(rc));
	log_info("daemon.stopped", "requests=%llu events=%llu",
		 (unsigned long long)srv->stats.requests,
		 (unsigned long long)srv->stats.events_published);
	config_free(&d.cfg);
	return rc ? 1 : 0;
}
