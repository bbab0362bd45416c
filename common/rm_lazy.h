/*
 * Libraries loaded on first use (issue 14). A tool that never calls into
 * libarchive, libcrypto or libgit2 (a --version, a cache hit, a plan) does not
 * load them and their dependencies at start-up: no tool is linked against
 * them; the functions common/ and the tools use are defined in rm_lazy_*.c
 * with the libraries' own prototypes (the compiler checks them against the
 * headers), each opening its library with dlopen on its first call.
 *
 * Those libraries are hard dependencies, as when they were linked: one that
 * cannot be loaded ends the process as the dynamic loader would have, with a
 * message on standard error naming it and exit status 70 (RM_EXIT_INTERNAL).
 * libcurl is not loaded through here: rm_http.c loads it itself and turns a
 * failure into a network error (exit 6).
 *
 * A new function of these libraries used anywhere needs its line in the
 * matching rm_lazy_*.c, or the link fails with "undefined reference".
 */
#ifndef RM_LAZY_H
#define RM_LAZY_H

#include <pthread.h>

struct rm_lazy {
	const char *soname;	/* the file to dlopen: "libarchive.so.13" */
	void *handle;		/* once opened */
	char error[512];	/* why it could not be (dlerror), else empty */
	int tried;
};

#define RM_LAZY_INIT(soname) { (soname), NULL, "", 0 }

/* Opens lib once (thread-safe); its handle, or NULL with lib->error set. */
void *rm_lazy_open(struct rm_lazy *lib);
/*
 * name from lib, remembered in *slot. A library or function that cannot be
 * had ends the process (see above); this never returns NULL.
 */
void *rm_lazy_fn(struct rm_lazy *lib, const char *name, void *volatile *slot);

/* A function of lib with a result: LAZY(lib, ret, name, (params), (args)) */
#define RM_LAZY(lib, ret, name, params, args) \
	ret name params \
	{ \
		static void *volatile slot_; \
		return ((ret (*) params)rm_lazy_fn(&(lib), #name, &slot_)) args; \
	}
/* One without: RM_LAZY_VOID(lib, name, (params), (args)) */
#define RM_LAZY_VOID(lib, name, params, args) \
	void name params \
	{ \
		static void *volatile slot_; \
		((void (*) params)rm_lazy_fn(&(lib), #name, &slot_)) args; \
	}
/*
 * Destructors that do nothing with NULL, as the libraries' own do, so that a
 * clean-up path never loads a library: RM_LAZY_FREE(lib, name, type) for one
 * returning void, RM_LAZY_FREE_RET(lib, ret, name, type, value for NULL).
 */
#define RM_LAZY_FREE(lib, name, type) \
	void name(type p) \
	{ \
		static void *volatile slot_; \
		if (p != NULL) \
			((void (*)(type))rm_lazy_fn(&(lib), #name, &slot_))(p); \
	}
#define RM_LAZY_FREE_RET(lib, ret, name, type, none) \
	ret name(type p) \
	{ \
		static void *volatile slot_; \
		if (p == NULL) \
			return none; \
		return ((ret (*)(type))rm_lazy_fn(&(lib), #name, &slot_))(p); \
	}

#endif
