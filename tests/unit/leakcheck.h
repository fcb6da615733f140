/**
 * @file leakcheck.h  Leak check of the unit tests: a count of live heap blocks
 *
 * Why this exists.  libre counts its own blocks only when it is built with
 * MEM_DEBUG.  Debian builds libre with RELEASE defined, so mem_get_stat()
 * answers ENOSYS there and a test cannot ask libre whether everything was
 * freed.  Every libre mem object is a malloc block, though, and so is
 * everything libevent, libmicrohttpd and libc allocate on our behalf.  So a
 * test binary that includes this header replaces malloc and its relatives
 * with thin wrappers around glibc's own allocator that count the blocks
 * handed out and not yet given back.  A test takes a mark at its start and
 * asserts at its end that the count is back to the mark: one object left
 * behind, of any library, makes the count one higher and the test fail.
 * The count is exact, so no tuning of glibc's allocator is needed.
 *
 * Use.  A test calls leakcheck_mark() before it allocates anything and
 * leakcheck_assert() with that mark after it has released everything; a
 * failure prints how many blocks are missing and the line of the test.
 * Libraries make some allocations once, on first use, and keep them for the
 * life of the process (stdio buffers, libre's and libevent's tables, MHD's
 * state).  A group setup that runs one round of what the tests do makes
 * those before any mark is taken, so that the per-test balances catch only
 * real leaks.
 *
 * Where libre does count its blocks (a MEM_DEBUG build), leakcheck_assert()
 * also asserts that libre has no block left.
 *
 * The sanitizer build (make asan) brings its own allocator, which must not
 * be replaced, and LeakSanitizer checks every allocation at exit.  There
 * LEAKCHECK_COUNT is 0: the wrappers are compiled out, leakcheck_mark()
 * answers 0 and leakcheck_assert() checks only libre's own count.
 * Building with -DLEAKCHECK_COUNT=0 does the same anywhere.
 *
 * The wrappers are definitions of malloc, free and the others, which must
 * be extern to replace glibc's; everything else here is static.  Each unit
 * test binary is built from one .c file and the project objects, so each
 * binary gets one copy of the wrappers (two .c files of one binary that
 * both included this header would not link).  Include it after <cmocka.h>.
 */
#ifndef CMRLAB_TESTS_LEAKCHECK_H
#define CMRLAB_TESTS_LEAKCHECK_H

#ifndef assert_int_equal
#error "include <cmocka.h> before leakcheck.h"
#endif

#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <re.h>


/* GCC says __SANITIZE_ADDRESS__, clang __has_feature(address_sanitizer).
 * The thread sanitizer replaces malloc as well. */
#ifndef LEAKCHECK_COUNT
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LEAKCHECK_COUNT 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define LEAKCHECK_COUNT 0
#endif
#endif
#endif

#ifndef LEAKCHECK_COUNT
#define LEAKCHECK_COUNT 1
#endif


#if LEAKCHECK_COUNT

/* Blocks handed out and not yet freed.  It is atomic so that a library
 * thread allocating at the same time as the test cannot spoil it.  It may
 * go below zero (blocks from before main() freed later); only differences
 * between a mark and a check mean anything. */
static atomic_long leakcheck_live;

/* glibc's allocator under its own names, which the wrappers call. */
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t m);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t align, size_t n);
void *__libc_valloc(size_t n);
void *__libc_pvalloc(size_t n);
void __libc_free(void *p);


void *malloc(size_t n)
{
	void *p = __libc_malloc(n);

	leakcheck_live += p != NULL;
	return p;
}


void *calloc(size_t n, size_t m)
{
	void *p = __libc_calloc(n, m);

	leakcheck_live += p != NULL;
	return p;
}


void *realloc(void *p, size_t n)
{
	void *q;

	/* glibc frees the block for a size of 0 and returns NULL. */
	if (p && !n) {
		--leakcheck_live;
		return __libc_realloc(p, n);
	}

	/* A moved or grown block is still one block; a failed realloc
	 * leaves the old one in place. */
	q = __libc_realloc(p, n);
	leakcheck_live += !p && q;
	return q;
}


void *memalign(size_t align, size_t n)
{
	void *p = __libc_memalign(align, n);

	leakcheck_live += p != NULL;
	return p;
}


void *aligned_alloc(size_t align, size_t n)
{
	return memalign(align, n);
}


int posix_memalign(void **pp, size_t align, size_t n)
{
	void *p;

	/* A power of two and a multiple of the size of a pointer. */
	if (!align || (align & (align - 1)) || align % sizeof(void *))
		return EINVAL;

	p = memalign(align, n);
	if (!p)
		return ENOMEM;

	*pp = p;
	return 0;
}


/* glibc's valloc and pvalloc do not go through memalign above, so they
 * are replaced too, or their blocks would be freed without being counted.
 * (glibc's reallocarray does call realloc, so it needs nothing.) */
void *valloc(size_t n)
{
	void *p = __libc_valloc(n);

	leakcheck_live += p != NULL;
	return p;
}


void *pvalloc(size_t n)
{
	void *p = __libc_pvalloc(n);

	leakcheck_live += p != NULL;
	return p;
}


void free(void *p)
{
	leakcheck_live -= p != NULL;
	__libc_free(p);
}

#endif /* LEAKCHECK_COUNT */


/* The number of live heap blocks now, to hand to leakcheck_assert(). */
static inline long leakcheck_mark(void)
{
#if LEAKCHECK_COUNT
	return leakcheck_live;
#else
	return 0;
#endif
}


/* Asserts that the heap holds as many blocks as it did at mark, and, where
 * libre counts its blocks, that libre has none left.  A macro, so that a
 * failure names the line of the test, not a line of this header. */
#define leakcheck_assert(mark) \
	leakcheck_assert_at((mark), __FILE__, __LINE__)


static inline void leakcheck_assert_at(long mark, const char *file,
				       int line)
{
	struct memstat st;

	if (0 == mem_get_stat(&st)) {
		if (st.blocks_cur)
			print_error("leak check: libre holds %zu block(s)\n",
				    st.blocks_cur);
		_assert_int_equal(cast_to_largest_integral_type(st.blocks_cur),
				  0, file, line);
	}

#if LEAKCHECK_COUNT
	{
		long live = leakcheck_live;

		/* More blocks is a leak; fewer means a block from before the
		 * mark was freed, which a balanced test does not do either. */
		if (live != mark)
			print_error("leak check: %+ld live heap block(s) "
				    "since the mark\n", live - mark);
		_assert_int_equal(cast_to_largest_integral_type(live),
				  cast_to_largest_integral_type(mark),
				  file, line);
	}
#else
	(void)mark;
#endif
}

#endif /* CMRLAB_TESTS_LEAKCHECK_H */
