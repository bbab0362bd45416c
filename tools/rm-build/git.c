#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "build.h"

/* https://user:token@host/x -> https://host/x: credentials never enter a package. */
static char *
strip_userinfo(const char *url)
{
	const char *scheme = strstr(url, "://"), *at, *slash;
	char *out;

	if (scheme == NULL)
		return strdup(url);
	slash = strchr(scheme + 3, '/');
	at = strchr(scheme + 3, '@');
	if (at == NULL || (slash != NULL && at > slash))
		return strdup(url);
	out = malloc(strlen(url) + 1);
	if (out == NULL)
		return NULL;
	snprintf(out, strlen(url) + 1, "%.*s%s", (int)(scheme + 3 - url), url, at + 1);
	return out;
}

/*
 * Does url name another machine? Git's rules: a scheme other than file://
 * is a network transport; without a scheme, "host:path" (a colon before
 * any slash, and a host before the colon) is scp-like ssh; everything else
 * (absolute or relative paths, file://) is this machine's disk, which says
 * nothing about the source and differs between clones of one commit.
 */
static int
url_is_network(const char *url)
{
	const char *scheme = strstr(url, "://"), *p, *colon, *slash;

	if (scheme != NULL && scheme > url) {
		for (p = url; p < scheme && (isalnum((unsigned char)*p) || *p == '+' ||
		    *p == '-' || *p == '.'); p++)
			;
		if (p == scheme)
			return !(scheme - url == 4 && strncasecmp(url, "file", 4) == 0);
	}
	colon = strchr(url, ':');
	slash = strchr(url, '/');
	return colon != NULL && colon != url && (slash == NULL || slash > colon);
}

/* The first remote of repo whose URL is a network one, credentials stripped. */
static char *
first_network_remote(git_repository *repo)
{
	git_strarray names = { NULL, 0 };
	git_remote *remote = NULL;
	char *url = NULL;
	size_t i;

	if (git_remote_list(&names, repo) != 0)
		return NULL;
	for (i = 0; i < names.count && url == NULL; i++) {
		remote = NULL;
		if (git_remote_lookup(&remote, repo, names.strings[i]) == 0 &&
		    git_remote_url(remote) != NULL && url_is_network(git_remote_url(remote)))
			url = strip_userinfo(git_remote_url(remote));
		git_remote_free(remote);
	}
	git_strarray_dispose(&names);
	return url;
}

/*
 * The remote recorded in provenance: origin when it is a network remote;
 * when origin is a repository on this disk (a clone of a local checkout),
 * that repository's own remote, followed up to 8 clones deep, so that a
 * clone of a checkout records what the checkout records; else the first
 * network remote in git's order; NULL when there is none.
 */
static char *
network_remote(git_repository *repo, int depth)
{
	git_remote *origin = NULL;
	git_repository *up = NULL;
	const char *ou;
	char *url = NULL;

	if (git_remote_lookup(&origin, repo, "origin") == 0 &&
	    (ou = git_remote_url(origin)) != NULL) {
		if (url_is_network(ou))
			url = strip_userinfo(ou);
		else if (depth < 8 && git_repository_open_ext(&up, strncmp(ou, "file://", 7) == 0 ?
		    ou + 7 : ou, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) == 0) {
			url = network_remote(up, depth + 1);
			git_repository_free(up);
		}
	}
	git_remote_free(origin);
	return url != NULL ? url : first_network_remote(repo);
}

json_t *
rm_build_git_info(const char *path, struct rm_err *err)
{
	git_repository *repo = NULL;
	git_reference *head = NULL;
	git_commit *commit = NULL;
	git_status_list *st = NULL;
	git_status_options so;
	json_t *out = NULL;
	const char *wd;
	char wdreal[PATH_MAX], dir[PATH_MAX], *slash, *url;

	(void)err;
	git_libgit2_init();
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir)
		*slash = '\0';
	if (git_repository_open_ext(&repo, dir, 0, NULL) != 0 ||
	    (wd = git_repository_workdir(repo)) == NULL) {
		out = json_null();
		goto done;
	}
	out = json_object();
	if (realpath(wd, wdreal) != NULL && strncmp(path, wdreal, strlen(wdreal)) == 0 &&
	    path[strlen(wdreal)] == '/')
		json_object_set_new(out, "path", json_string(path + strlen(wdreal) + 1));
	else
		json_object_set_new(out, "path", json_null());
	if (git_repository_head(&head, repo) == 0) {
		const git_oid *oid = git_reference_target(head);
		char hex[GIT_OID_HEXSZ + 1];
		if (oid != NULL && git_commit_lookup(&commit, repo, oid) == 0) {
			git_oid_tostr(hex, sizeof(hex), oid);
			json_object_set_new(out, "commit", json_string(hex));
			json_object_set_new(out, "commit_time",
			    json_integer((json_int_t)git_commit_time(commit)));
		}
		json_object_set_new(out, "branch", git_reference_is_branch(head) ?
		    json_string(git_reference_shorthand(head)) : json_null());
	}
	if (json_object_get(out, "commit") == NULL) {
		json_object_set_new(out, "commit", json_null());
		json_object_set_new(out, "commit_time", json_null());
	}
	if (json_object_get(out, "branch") == NULL)
		json_object_set_new(out, "branch", json_null());
	/* no network remote: no field, so that every clone of a commit agrees */
	if ((url = network_remote(repo, 0)) != NULL)
		json_object_set_new(out, "remote_url", json_string(url));
	free(url);
	git_status_options_init(&so, GIT_STATUS_OPTIONS_VERSION);
	so.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
	so.flags = GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
	if (git_status_list_new(&st, repo, &so) == 0)
		json_object_set_new(out, "dirty", json_boolean(git_status_list_entrycount(st) > 0));
	else
		json_object_set_new(out, "dirty", json_null());
done:
	git_status_list_free(st);
	git_commit_free(commit);
	git_reference_free(head);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return out;
}
