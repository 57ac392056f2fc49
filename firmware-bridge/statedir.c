/* SPDX-License-Identifier: Apache-2.0 */
/*
 * statedir.c - the state directory's lock and atomic, durable file writes.
 *
 * Everything durable in the bridge goes through bridge_state_write(): the
 * write-fsync-rename-fsync(dir) sequence is the only way a file changes, so
 * whatever moment the process dies at, each file is whole (old or new).
 */
#include "statedir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_BUF 512

static enum smile_err join(char *out, const char *dir, const char *name, const char *suffix,
			   struct smile_error *e)
{
	int n = snprintf(out, PATH_BUF, "%s/%s%s", dir, name, suffix);
	if (n < 0 || n >= PATH_BUF)
		return smile_error_set(e, SMILE_ERR_INVALID, "state_dir", "path too long");
	return SMILE_OK;
}

enum smile_err bridge_state_mkdir(const char *dir, struct smile_error *e)
{
	struct stat st;

	if (mkdir(dir, 0700) == 0)
		return SMILE_OK;
	if (errno != EEXIST)
		return smile_error_set(e, errno == EACCES ? SMILE_ERR_PERMISSION : SMILE_ERR_IO,
				       "state_dir", "cannot create the directory: %s",
				       strerror(errno));
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return smile_error_set(e, SMILE_ERR_INVALID, "state_dir", "not a directory");
	return SMILE_OK;
}

enum smile_err bridge_state_lock(const char *dir, int *lock_fd, struct smile_error *e)
{
	char path[PATH_BUF];
	enum smile_err rc;
	int fd;

	*lock_fd = -1;
	rc = bridge_state_mkdir(dir, e);
	if (rc != SMILE_OK)
		return rc;
	rc = join(path, dir, "lock", "", e);
	if (rc != SMILE_OK)
		return rc;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return smile_error_set(e, errno == EACCES ? SMILE_ERR_PERMISSION : SMILE_ERR_IO,
				       "state_dir", "cannot open the lock file: %s", strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int err = errno;
		close(fd);
		if (err == EWOULDBLOCK)
			return smile_error_set(e, SMILE_ERR_BUSY, "state_dir",
					       "another smile-bridge is using this state directory");
		return smile_error_set(e, SMILE_ERR_IO, "state_dir", "cannot lock: %s",
				       strerror(err));
	}
	*lock_fd = fd;
	return SMILE_OK;
}

enum smile_err bridge_state_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return SMILE_ERR_IO;
	rc = fsync(fd);
	close(fd);
	return rc == 0 ? SMILE_OK : SMILE_ERR_IO;
}

enum smile_err bridge_state_write(const char *dir, const char *name, const void *data,
				  size_t len, struct smile_error *e)
{
	char path[PATH_BUF], tmp[PATH_BUF];
	const char *p = data;
	size_t off = 0;
	enum smile_err rc;
	int fd;

	rc = join(path, dir, name, "", e);
	if (rc == SMILE_OK)
		rc = join(tmp, dir, name, ".tmp", e);
	if (rc != SMILE_OK)
		return rc;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return smile_error_set(e, SMILE_ERR_IO, name, "cannot create: %s", strerror(errno));
	while (off < len) {
		ssize_t n = write(fd, p + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (off != len || fsync(fd) != 0) {
		int err = errno;
		close(fd);
		unlink(tmp);
		return smile_error_set(e, SMILE_ERR_IO, name, "cannot write: %s", strerror(err));
	}
	if (close(fd) != 0 || rename(tmp, path) != 0) {
		int err = errno;
		unlink(tmp);
		return smile_error_set(e, SMILE_ERR_IO, name, "cannot replace: %s", strerror(err));
	}
	if (bridge_state_sync_dir(dir) != SMILE_OK)
		return smile_error_set(e, SMILE_ERR_IO, name, "cannot sync the directory");
	return SMILE_OK;
}

enum smile_err bridge_state_remove(const char *dir, const char *name, struct smile_error *e)
{
	char path[PATH_BUF];
	enum smile_err rc = join(path, dir, name, "", e);

	if (rc != SMILE_OK)
		return rc;
	if (unlink(path) != 0 && errno != ENOENT)
		return smile_error_set(e, SMILE_ERR_IO, name, "cannot remove: %s", strerror(errno));
	if (bridge_state_sync_dir(dir) != SMILE_OK)
		return smile_error_set(e, SMILE_ERR_IO, name, "cannot sync the directory");
	return SMILE_OK;
}

enum smile_err bridge_state_read(const char *dir, const char *name, void *buf, size_t cap,
				 size_t *len, struct smile_error *e)
{
	char path[PATH_BUF];
	char *p = buf;
	size_t off = 0;
	enum smile_err rc = join(path, dir, name, "", e);
	int fd;

	*len = 0;
	if (rc != SMILE_OK)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return smile_error_set(e, errno == ENOENT ? SMILE_ERR_NOT_FOUND : SMILE_ERR_IO, name,
				       "cannot open: %s", strerror(errno));
	for (;;) {
		char extra;
		ssize_t n = off < cap ? read(fd, p + off, cap - off) : read(fd, &extra, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return smile_error_set(e, SMILE_ERR_IO, name, "cannot read: %s",
					       strerror(errno));
		}
		if (n == 0)
			break;
		if (off == cap) {
			close(fd);
			return smile_error_set(e, SMILE_ERR_TOO_LARGE, name, "larger than %zu bytes",
					       cap);
		}
		off += (size_t)n;
	}
	close(fd);
	*len = off;
	return SMILE_OK;
}
