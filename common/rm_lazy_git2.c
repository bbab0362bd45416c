/* libgit2, opened on first use (rm_lazy.h): the functions of rm-build's provenance step. */
#include "config.h"

#include <git2.h>

#include "rm_lazy.h"

static struct rm_lazy git2 = RM_LAZY_INIT(RM_SONAME_GIT2);

RM_LAZY(git2, int, git_libgit2_init, (void), ())
RM_LAZY(git2, int, git_libgit2_shutdown, (void), ())
RM_LAZY(git2, int, git_repository_open_ext, (git_repository **out, const char *path,
    unsigned int flags, const char *ceiling), (out, path, flags, ceiling))
RM_LAZY(git2, const char *, git_repository_workdir, (const git_repository *r), (r))
RM_LAZY(git2, int, git_repository_head, (git_reference **out, git_repository *r), (out, r))
RM_LAZY(git2, const git_oid *, git_reference_target, (const git_reference *ref), (ref))
RM_LAZY(git2, int, git_reference_is_branch, (const git_reference *ref), (ref))
RM_LAZY(git2, const char *, git_reference_shorthand, (const git_reference *ref), (ref))
RM_LAZY(git2, int, git_commit_lookup, (git_commit **out, git_repository *r, const git_oid *id),
    (out, r, id))
RM_LAZY(git2, git_time_t, git_commit_time, (const git_commit *c), (c))
RM_LAZY(git2, char *, git_oid_tostr, (char *out, size_t n, const git_oid *id), (out, n, id))
RM_LAZY(git2, int, git_remote_lookup, (git_remote **out, git_repository *r, const char *name),
    (out, r, name))
RM_LAZY(git2, int, git_remote_list, (git_strarray *out, git_repository *r), (out, r))
RM_LAZY(git2, const char *, git_remote_url, (const git_remote *rem), (rem))
RM_LAZY(git2, int, git_status_options_init, (git_status_options *o, unsigned int v), (o, v))
RM_LAZY(git2, int, git_status_list_new, (git_status_list **out, git_repository *r,
    const git_status_options *o), (out, r, o))
RM_LAZY(git2, size_t, git_status_list_entrycount, (git_status_list *s), (s))
RM_LAZY_FREE(git2, git_status_list_free, git_status_list *)
RM_LAZY_FREE(git2, git_remote_free, git_remote *)
RM_LAZY_FREE(git2, git_commit_free, git_commit *)
RM_LAZY_FREE(git2, git_reference_free, git_reference *)
RM_LAZY_FREE(git2, git_repository_free, git_repository *)

void
git_strarray_dispose(git_strarray *a)
{
	static void *volatile slot_;

	if (a != NULL && a->strings != NULL)
		((void (*)(git_strarray *))rm_lazy_fn(&git2, "git_strarray_dispose", &slot_))(a);
}
