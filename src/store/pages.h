/*
 * pages: the memory slab pages are cut from.
 *
 * Slab pages (SLAB_PAGE_SIZE) are handed out from 2 MiB-aligned arenas
 * mapped with MADV_HUGEPAGE. Where transparent huge pages are on (Debian's
 * default is `madvise`), an arena is one TLB entry instead of 512, and a
 * lookup that lands on a cold item pays one cache miss, not a page walk as
 * well. Items are spread over the whole cache, so on a big one nearly every
 * hit used to miss the TLB.
 *
 * Arenas are mapped as pages are needed and never unmapped before
 * teardown. A page that comes back goes on a free list for the next class
 * that needs one; one given back for other use (large items, a lower
 * memory limit) also has its memory returned with MADV_DONTNEED, so the
 * resident size follows the budget.
 *
 * The pool's lock is a leaf: it is taken under class locks and never
 * holds another lock.
 */
#ifndef TANDEM_STORE_PAGES_H
#define TANDEM_STORE_PAGES_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct page_pool {
    pthread_mutex_t lock;
    char **arenas; /* for teardown */
    uint32_t narenas, arenas_cap;
    char *next;     /* the newest arena's first page never handed out */
    uint32_t left;  /* pages from `next` to the end of that arena */
    void *free;     /* pages given back, linked through their first word */
};

void pages_setup(struct page_pool *p);

/* Unmap every arena; no page may be used after this. */
void pages_teardown(struct page_pool *p);

/* One SLAB_PAGE_SIZE page, or NULL when no memory could be mapped. */
char *pages_get(struct page_pool *p);

/* Take a page back. `release` also returns its memory to the system. */
void pages_put(struct page_pool *p, char *page, bool release);

#endif
