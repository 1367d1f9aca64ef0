/*
 * pages: slab pages cut from huge-page arenas; the story is in pages.h.
 */
#include "store/pages.h"

#include "store/slab.h"

#include <stdlib.h>
#include <sys/mman.h>

#define ARENA_BYTES (2u << 20)
#define ARENA_PAGES (ARENA_BYTES / SLAB_PAGE_SIZE)

_Static_assert(ARENA_BYTES % SLAB_PAGE_SIZE == 0, "an arena holds whole slab pages");

void pages_setup(struct page_pool *p)
{
    *p = (struct page_pool){0};
    pthread_mutex_init(&p->lock, NULL);
}

void pages_teardown(struct page_pool *p)
{
    for (uint32_t i = 0; i < p->narenas; i++)
        munmap(p->arenas[i], ARENA_BYTES);
    free(p->arenas);
    pthread_mutex_destroy(&p->lock);
    *p = (struct page_pool){0};
}

/* Map one arena on a 2 MiB boundary: map twice the size and trim, since
 * mmap only promises page alignment and a huge page needs the boundary. */
static char *arena_map(void)
{
    size_t span = 2 * (size_t)ARENA_BYTES;
    char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    uintptr_t mask = ARENA_BYTES - 1;
    char *a = (char *)(((uintptr_t)raw + mask) & ~mask);
    if (a > raw)
        munmap(raw, (size_t)(a - raw));
    munmap(a + ARENA_BYTES, (size_t)(raw + span - (a + ARENA_BYTES)));
    /* Without THP (or with it off) this fails and the arena is plain pages. */
    madvise(a, ARENA_BYTES, MADV_HUGEPAGE);
    return a;
}

/* Map a new arena and make it the one pages are cut from (lock held). */
static bool arena_add(struct page_pool *p)
{
    if (p->narenas == p->arenas_cap) {
        uint32_t cap = p->arenas_cap ? 2 * p->arenas_cap : 16;
        char **na = realloc(p->arenas, cap * sizeof(*na));
        if (na == NULL)
            return false;
        p->arenas = na;
        p->arenas_cap = cap;
    }
    char *a = arena_map();
    if (a == NULL)
        return false;
    p->arenas[p->narenas++] = a;
    p->next = a;
    p->left = ARENA_PAGES;
    return true;
}

char *pages_get(struct page_pool *p)
{
    char *page = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->free != NULL) {
        page = p->free;
        p->free = *(void **)page;
    } else if (p->left > 0 || arena_add(p)) {
        page = p->next;
        p->next += SLAB_PAGE_SIZE;
        p->left--;
    }
    pthread_mutex_unlock(&p->lock);
    return page;
}

void pages_put(struct page_pool *p, char *page, bool release)
{
    if (release)
        madvise(page, SLAB_PAGE_SIZE, MADV_DONTNEED);
    pthread_mutex_lock(&p->lock);
    *(void **)page = p->free;
    p->free = page;
    pthread_mutex_unlock(&p->lock);
}
