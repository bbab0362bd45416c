/* Libraries opened with dlopen on first use; see rm_lazy.h. */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rm_err.h"
#include "rm_lazy.h"

static pthread_mutex_t lazy_lock = PTHREAD_MUTEX_INITIALIZER;

void *
rm_lazy_open(struct rm_lazy *lib)
{
	void *h;

	pthread_mutex_lock(&lazy_lock);
	if (!lib->tried) {
		lib->tried = 1;
		if ((lib->handle = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL)) == NULL) {
			const char *why = dlerror();
			snprintf(lib->error, sizeof(lib->error), "%s", why ? why : lib->soname);
		}
	}
	h = lib->handle;
	pthread_mutex_unlock(&lazy_lock);
	return h;
}

/* As the dynamic loader does for a missing library: say so and end. */
static void
lazy_fatal(const char *msg)
{
	char line[700];
	int n;

	n = snprintf(line, sizeof(line), "%s: cannot load a library it needs: %s "
	    "(the installation is broken)\n", program_invocation_short_name, msg);
	if (n > 0 && write(STDERR_FILENO, line, (size_t)n < sizeof(line) ? (size_t)n :
	    sizeof(line) - 1) < 0)
		n = 0;
	_exit(RM_EXIT_INTERNAL);
}

void *
rm_lazy_fn(struct rm_lazy *lib, const char *name, void *volatile *slot)
{
	void *h, *f = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	char msg[600];

	if (f != NULL)
		return f;
	if ((h = rm_lazy_open(lib)) == NULL)
		lazy_fatal(lib->error);
	if ((f = dlsym(h, name)) == NULL) {
		snprintf(msg, sizeof(msg), "%s has no %s", lib->soname, name);
		lazy_fatal(msg);
	}
	__atomic_store_n(slot, f, __ATOMIC_RELEASE);
	return f;
}
