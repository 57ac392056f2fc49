/* SPDX-License-Identifier: Apache-2.0 */
/*
 * output.c - reply lines to stdout or to UI clients on a UNIX socket.
 *
 * The bridge must never wait for a UI: client sockets are non-blocking and a
 * line goes out in a single send(); a short or failed send drops that client
 * (it reconnects and carries on with the next line; an unterminated last
 * line before the end of the stream is to be discarded), so a slow UI can
 * neither stall scanning nor see two lines run together.
 */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "smile/log.h"

struct bridge_output {
	struct bridge_output_spec spec;
	int listen_fd;
	int clients[BRIDGE_OUTPUT_CLIENTS_MAX];
	int n_clients;
	long dropped; /* lines no client was there to read */
};

enum smile_err bridge_output_parse(const char *spec, struct bridge_output_spec *out,
				   struct smile_error *e)
{
	memset(out, 0, sizeof(*out));
	if (spec == NULL || strcmp(spec, "stdout") == 0 || strcmp(spec, "-") == 0) {
		out->kind = BRIDGE_OUTPUT_STDOUT;
		return SMILE_OK;
	}
	if (strncmp(spec, "unix:", 5) == 0) {
		size_t n = strlen(spec + 5);
		if (n == 0)
			return smile_error_set(e, SMILE_ERR_INVALID, "output", "socket path missing");
		if (n >= sizeof(out->path))
			return smile_error_set(e, SMILE_ERR_INVALID, "output",
					       "socket path longer than %zu bytes",
					       sizeof(out->path) - 1);
		out->kind = BRIDGE_OUTPUT_UNIX;
		memcpy(out->path, spec + 5, n + 1);
		return SMILE_OK;
	}
	return smile_error_set(e, SMILE_ERR_INVALID, "output", "expected stdout or unix:PATH");
}

static enum smile_err open_unix(struct bridge_output *o, struct smile_error *e)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t old;
	int rc;

	if (lstat(o->spec.path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return smile_error_set(e, SMILE_ERR_EXISTS, "output",
					       "path exists and is not a socket");
		unlink(o->spec.path); /* left by a previous run */
	}
	o->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (o->listen_fd < 0)
		return smile_error_set(e, SMILE_ERR_IO, "output", "socket: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, o->spec.path, strlen(o->spec.path) + 1);
	/* Only the bridge's user may read replies: they carry contact details. */
	old = umask(0177);
	rc = bind(o->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc != 0)
		return smile_error_set(e, SMILE_ERR_IO, "output", "cannot bind the socket: %s",
				       strerror(errno));
	if (listen(o->listen_fd, BRIDGE_OUTPUT_CLIENTS_MAX) != 0)
		return smile_error_set(e, SMILE_ERR_IO, "output", "listen: %s", strerror(errno));
	return SMILE_OK;
}

enum smile_err bridge_output_open(const struct bridge_output_spec *spec,
				  struct bridge_output **out, struct smile_error *e)
{
	struct bridge_output *o;
	enum smile_err rc = SMILE_OK;

	*out = NULL;
	o = calloc(1, sizeof(*o));
	if (o == NULL)
		return smile_error_set(e, SMILE_ERR_NOMEM, "output", "out of memory");
	o->spec = *spec;
	o->listen_fd = -1;
	if (spec->kind == BRIDGE_OUTPUT_UNIX)
		rc = open_unix(o, e);
	else if (spec->kind != BRIDGE_OUTPUT_STDOUT)
		rc = smile_error_set(e, SMILE_ERR_INVALID, "output", "unknown output kind");
	if (rc != SMILE_OK) {
		if (o->listen_fd >= 0)
			close(o->listen_fd);
		free(o);
		return rc;
	}
	*out = o;
	return SMILE_OK;
}

int bridge_output_listen_fd(const struct bridge_output *o)
{
	return o->listen_fd;
}

void bridge_output_accept(struct bridge_output *o)
{
	for (;;) {
		int fd = accept4(o->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (o->n_clients == BRIDGE_OUTPUT_CLIENTS_MAX) {
			smile_log(SMILE_LOG_WARN, "bridge.output.refused",
				  SMILE_KV_INT("clients", o->n_clients));
			close(fd);
			continue;
		}
		o->clients[o->n_clients++] = fd;
		smile_log(SMILE_LOG_INFO, "bridge.output.client", SMILE_KV_INT("clients", o->n_clients));
	}
}

static void drop_client(struct bridge_output *o, int i)
{
	close(o->clients[i]);
	o->clients[i] = o->clients[--o->n_clients];
	smile_log(SMILE_LOG_WARN, "bridge.output.client_dropped",
		  SMILE_KV_INT("clients", o->n_clients));
}

enum smile_err bridge_output_write(struct bridge_output *o, const char *line, size_t len)
{
	if (o->spec.kind == BRIDGE_OUTPUT_STDOUT) {
		size_t off = 0;
		while (off < len) {
			ssize_t n = write(1, line + off, len - off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return SMILE_ERR_IO;
			off += (size_t)n;
		}
		return SMILE_OK;
	}
	bridge_output_accept(o); /* a client that connected since the last poll */
	if (o->n_clients == 0) {
		o->dropped++;
		smile_log(SMILE_LOG_WARN, "bridge.output.no_client", SMILE_KV_INT("dropped", o->dropped));
		return SMILE_OK;
	}
	for (int i = o->n_clients - 1; i >= 0; i--) {
		ssize_t n = send(o->clients[i], line, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 || (size_t)n != len)
			drop_client(o, i);
	}
	return SMILE_OK;
}

int bridge_output_clients(const struct bridge_output *o)
{
	return o->spec.kind == BRIDGE_OUTPUT_STDOUT ? 1 : o->n_clients;
}

void bridge_output_free(struct bridge_output *o)
{
	if (o == NULL)
		return;
	for (int i = 0; i < o->n_clients; i++)
		close(o->clients[i]);
	if (o->listen_fd >= 0) {
		close(o->listen_fd);
		unlink(o->spec.path);
	}
	free(o);
}
