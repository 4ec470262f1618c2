/* SPDX-License-Identifier: MIT
 * exec/memory.c — the paged 32-bit guest address space (pvm.md §2.3, §2.4): one 4 GiB
 * virtual reservation for contents (pages are committed by the host only when touched) and
 * one state byte per page, so an access costs one flat lookup. See exec/exec.h. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "exec/exec.h"

#define SPACE (UINT64_C(1) << 32)

/* One reservation holds the page-state bytes and then the 4 GiB of contents, so the state
 * of page n sits at base - JAVM_NUM_PAGES + n: the interpreter reaches both through one
 * register (exec/exec.h, EXEC_PAGE_STATE). */
#define STATES JAVM_NUM_PAGES

static uint8_t *reserve_space(void)
{
    void *p = mmap(NULL, STATES + SPACE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* The bookkeeping lists (dirty, touched: a page number each; src: a pointer each) can each
 * hold every page, 16 MiB together. They live in one anonymous mapping, committed by the
 * kernel only where written (a few pages per run), so creating and freeing a memory costs
 * O(pages used), not 16 MiB of allocation and zeroing (or of sanitizer shadow). */
#define LISTS_SRC_OFF ((size_t)JAVM_NUM_PAGES * 2 * sizeof(uint32_t))
#define LISTS_BYTES (LISTS_SRC_OFF + (size_t)JAVM_NUM_PAGES * sizeof(const uint8_t *))

int javm_memory_new(javm_memory **out)
{
    int rc = JAVM_ERR_ALLOC;
    javm_memory *m = calloc(1, sizeof *m);
    if (!m)
        goto done;
    void *lists = mmap(NULL, LISTS_BYTES, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (lists == MAP_FAILED)
        goto done;
    m->dirty = lists;
    m->touched = m->dirty + JAVM_NUM_PAGES;
    m->src = (const uint8_t **)((uint8_t *)lists + LISTS_SRC_OFF);
    uint8_t *space = reserve_space();
    if (!space)
        goto done;
    m->page = space;
    m->base = space + STATES;
    *out = m;
    m = NULL;
    rc = JAVM_OK;
done:
    javm_memory_free(m);
    return rc;
}

void javm_memory_free(javm_memory *m)
{
    if (!m)
        return;
    if (m->page)
        munmap(m->page, STATES + SPACE);
    if (m->dirty)
        munmap(m->dirty, LISTS_BYTES);
    free(m->layers);
    free(m);
}

/* Pages written since the last reset are zeroed one by one while few; past this many the
 * whole reservation is dropped at once (the kernel gives back zero pages on next touch). */
#define RESET_MEMSET_MAX 4096

void javm_memory_reset(javm_memory *m)
{
    size_t written = 0;
    for (size_t i = 0; i < m->ntouched; i++)
        written += (m->page[m->touched[i]] & EXEC_P_WR) != 0;
    if (written > RESET_MEMSET_MAX)
        madvise(m->base, SPACE, MADV_DONTNEED); /* contents only: states are reset below */
    for (size_t i = 0; i < m->ntouched; i++) {
        uint32_t pg = m->touched[i];
        if (written <= RESET_MEMSET_MAX && (m->page[pg] & EXEC_P_WR))
            memset(m->base + ((uint64_t)pg << 12), 0, JAVM_PAGE_SIZE);
        m->page[pg] = 0;
        m->src[pg] = NULL;
    }
    m->ntouched = 0;
    m->ndirty = 0;
    m->nlayers = 0;
}

/* ---- layers: build_entry's layout, resolved page by page on first use ------------------ */

/* The source pointer of page k of a content layer (NULL: zeros). */
static const uint8_t *layer_item(const exec_layer *l, uint64_t k)
{
    const uint8_t *s = NULL;
    if (k >= l->nitems)
        return NULL;
    const uint8_t *g = l->groups[k >> l->shift];
    if (g)
        memcpy(&s, g + l->off + (k & ((UINT64_C(1) << l->shift) - 1)) * l->stride, sizeof s);
    return s;
}

/* The state and source an untouched page (state byte 0) has through the layers: the
 * permission of the last permission layer over it, and, when mapped, the source of the
 * content layer over it (a lazily mapped page) or none (a zero page). Untouched pages are
 * zero in the contents, so a page no layer maps reads as before. */
static uint8_t layered(const javm_memory *m, uint32_t pg, const uint8_t **src)
{
    uint8_t perm = 0;
    bool have_perm = false, have_content = false;
    const uint8_t *s = NULL;
    for (size_t i = m->nlayers; i-- > 0 && !(have_perm && have_content);) {
        const exec_layer *l = &m->layers[i];
        if ((uint64_t)pg - l->first >= l->count)
            continue;
        if (l->groups && !have_content) {
            have_content = true;
            s = layer_item(l, (uint64_t)pg - l->first);
        } else if (!l->groups && !have_perm) {
            have_perm = true;
            perm = l->perm;
        }
    }
    *src = NULL;
    if (!perm)
        return 0;
    if (s) {
        *src = s;
        return (uint8_t)(EXEC_P_L | (perm << 6));
    }
    return perm;
}

/* A page's state as every accessor sees it (its state byte, or the layers' for an untouched
 * page), and its lazy source. */
static inline uint8_t state_of(const javm_memory *m, uint32_t pg, const uint8_t **src)
{
    uint8_t s = m->page[pg];
    if (s || !m->nlayers) {
        *src = m->src[pg];
        return s;
    }
    return layered(m, pg, src);
}

/* Every change to a page's state or contents starts here: the page joins the touched list
 * (reset clears it) and, if untouched, takes the state its layers give it. */
static void touch(javm_memory *m, uint32_t pg)
{
    if (!(m->page[pg] & EXEC_P_T)) {
        if (m->nlayers && !m->page[pg])
            m->page[pg] = layered(m, pg, &m->src[pg]);
        m->page[pg] |= EXEC_P_T;
        m->touched[m->ntouched++] = pg;
    }
}

static int push_layer(javm_memory *m, const exec_layer *l)
{
    if (m->nlayers == m->caplayers) {
        size_t c = m->caplayers ? m->caplayers * 2 : 8;
        exec_layer *p = realloc(m->layers, c * sizeof *p);
        if (!p)
            return JAVM_ERR_ALLOC;
        m->layers = p;
        m->caplayers = c;
    }
    m->layers[m->nlayers++] = *l;
    return JAVM_OK;
}

int exec_memory_layer_perm(javm_memory *m, uint64_t start, uint64_t size, javm_perm perm)
{
    if ((start | size) & 0xFFF || start > SPACE || size > SPACE - start || perm == JAVM_PERM_NONE)
        return JAVM_ERR_MEM_RANGE;
    uint8_t bits = perm == JAVM_PERM_RW ? EXEC_P_R | EXEC_P_W : EXEC_P_R;
    exec_layer l = { (uint32_t)(start >> 12), (uint32_t)(size >> 12), bits, 0, NULL, 0, 0, 0 };
    int rc = push_layer(m, &l);
    /* Pages already touched do not look at layers: give them the permission as set_perm would */
    for (size_t i = 0; rc == JAVM_OK && i < m->ntouched; i++) {
        uint32_t pg = m->touched[i];
        if ((uint64_t)pg - l.first < l.count)
            rc = javm_memory_set_perm(m, (uint64_t)pg << 12, JAVM_PAGE_SIZE, perm);
    }
    return rc;
}

int exec_memory_layer_content(javm_memory *m, uint32_t first, uint64_t count, const void *const *groups,
                              unsigned shift, size_t off, size_t stride, uint64_t nitems)
{
    if (first >= JAVM_NUM_PAGES || count > JAVM_NUM_PAGES - first || !groups || shift > 32)
        return JAVM_ERR_MEM_RANGE;
    exec_layer l = { first, (uint32_t)count, 0, (uint8_t)shift, groups, off, stride, nitems };
    int rc = push_layer(m, &l);
    for (size_t i = 0; rc == JAVM_OK && i < m->ntouched; i++) {
        uint32_t pg = m->touched[i];
        uint64_t k = (uint64_t)pg - first;
        if (k >= count)
            continue;
        const uint8_t *s = layer_item(&l, k);
        if (s)
            rc = exec_memory_map_lazy(m, pg, s);
    }
    return rc;
}

void exec_memory_layer_repoint(javm_memory *m, uint32_t first, const void *const *groups)
{
    for (size_t i = 0; i < m->nlayers; i++)
        if (m->layers[i].groups && m->layers[i].first == first)
            m->layers[i].groups = groups;
}

/* The permission bits (EXEC_P_R, EXEC_P_W) a page has, lazy or not. */
static inline uint8_t perm_bits(uint8_t s)
{
    return (s & EXEC_P_L) ? (uint8_t)((s >> 6) & 3) : (uint8_t)(s & 3);
}

/* Copies a lazily mapped page's contents in; it becomes an ordinary page, written (so that
 * reset zeroes it) but not dirty (its contents are the overlay's). */
static void materialize(javm_memory *m, uint32_t pg)
{
    if (!m->page[pg] && m->nlayers)
        touch(m, pg);
    uint8_t s = m->page[pg];
    if (!(s & EXEC_P_L))
        return;
    memcpy(m->base + ((uint64_t)pg << 12), m->src[pg], JAVM_PAGE_SIZE);
    m->src[pg] = NULL;
    m->page[pg] = (uint8_t)((s & (EXEC_P_D | EXEC_P_T)) | perm_bits(s) | EXEC_P_WR);
}

static void materialize_range(javm_memory *m, uint32_t addr, uint64_t len)
{
    uint64_t end = len > SPACE - addr ? SPACE : (uint64_t)addr + len;
    for (uint64_t pg = addr >> 12; (pg << 12) < end; pg++)
        materialize(m, (uint32_t)pg);
}

int exec_memory_map_lazy(javm_memory *m, uint32_t pg, const uint8_t *src)
{
    const uint8_t *cur;
    if (pg >= JAVM_NUM_PAGES || !perm_bits(state_of(m, pg, &cur)))
        return JAVM_ERR_MEM_RANGE;
    touch(m, pg);
    uint8_t s = m->page[pg];
    uint8_t perm = perm_bits(s);
    if (s & EXEC_P_WR) /* old contents: zero them, the page reads as src until first use */
        memset(m->base + ((uint64_t)pg << 12), 0, JAVM_PAGE_SIZE);
    m->page[pg] = (uint8_t)((m->page[pg] & (EXEC_P_D | EXEC_P_T)) | EXEC_P_L | (perm << 6));
    m->src[pg] = src;
    return JAVM_OK;
}

const uint8_t *exec_memory_page_bytes(const javm_memory *m, uint32_t pg)
{
    const uint8_t *src;
    return (state_of(m, pg, &src) & EXEC_P_L) ? src : m->base + ((uint64_t)pg << 12);
}

void exec_memory_materialize(javm_memory *m)
{
    for (size_t i = 0; i < m->ntouched; i++)
        materialize(m, m->touched[i]);
}

/* Copies [addr, addr + len) out, lazily mapped pages from their source. */
static void copy_out(const javm_memory *m, uint32_t addr, uint64_t len, uint8_t *buf)
{
    uint64_t a = addr, end = (uint64_t)addr + len;
    while (a < end) {
        uint64_t pg = a >> 12, next = (pg + 1) << 12;
        uint64_t n = (next < end ? next : end) - a;
        const uint8_t *src;
        const uint8_t *from = (state_of(m, (uint32_t)pg, &src) & EXEC_P_L) ? src + (a & 0xFFF) : m->base + a;
        memcpy(buf, from, n);
        buf += n;
        a += n;
    }
}

static void mark_dirty(javm_memory *m, uint32_t pg)
{
    touch(m, pg);
    m->page[pg] |= EXEC_P_WR;
    if (!(m->page[pg] & EXEC_P_D)) {
        m->page[pg] |= EXEC_P_D;
        m->dirty[m->ndirty++] = pg;
    }
}

/* Lowest page in [addr, addr + len) (clipped at 2^32) whose state lacks `need`. */
static bool first_bad_page(const javm_memory *m, uint32_t addr, uint64_t len, uint8_t need,
                           uint32_t *bad)
{
    /* len may be any u64: clip at 2^32 without computing addr + len, which could wrap */
    uint64_t end = len > SPACE - addr ? SPACE : (uint64_t)addr + len;
    for (uint64_t pg = addr >> 12; (pg << 12) < end; pg++) {
        const uint8_t *src;
        if ((perm_bits(state_of(m, (uint32_t)pg, &src)) & need) != need) {
            *bad = (uint32_t)(pg << 12);
            return true;
        }
    }
    return false;
}

javm_exit_reason exec_mem_slow(javm_memory *m, uint32_t addr, unsigned n, bool write,
                               javm_profile profile, uint32_t *fault)
{
    bool draft = profile == JAVM_PROFILE_JAM_DRAFT;
    if (draft && addr < EXEC_DRAFT_LOW)
        return JAVM_EXIT_PANIC; /* jam-draft: the low 64 KiB are never accessible */
    uint8_t need = write ? EXEC_P_W : EXEC_P_R;
    uint32_t bad;
    if (first_bad_page(m, addr, n, need, &bad)) {
        const uint8_t *src;
        if (draft && write && (perm_bits(state_of(m, bad >> 12, &src)) & EXEC_P_R))
            return JAVM_EXIT_PANIC; /* jam-draft: a store to a read-only page */
        *fault = bad; /* pvm.md §2.4 rule 1: the page of the lowest inaccessible byte */
        return JAVM_EXIT_PAGE_FAULT;
    }
    if ((uint64_t)addr + n > SPACE)
        return JAVM_EXIT_PANIC; /* rule 2 */
    materialize(m, addr >> 12);
    materialize(m, (uint32_t)(((uint64_t)addr + n - 1) >> 12));
    if (write) {
        mark_dirty(m, addr >> 12);
        mark_dirty(m, (uint32_t)(((uint64_t)addr + n - 1) >> 12));
    }
    return JAVM_EXIT_HALT;
}

int javm_memory_probe(const javm_memory *m, uint32_t addr, uint64_t len, javm_access mode,
                      uint32_t *fault_addr)
{
    if (len == 0)
        return JAVM_OK;
    uint32_t bad = 0;
    uint8_t need = mode == JAVM_ACCESS_WRITE ? EXEC_P_W : EXEC_P_R;
    if (first_bad_page(m, addr, len, need, &bad) || len > SPACE - addr) {
        if (fault_addr)
            *fault_addr = bad;
        return JAVM_ERR_MEM_ACCESS;
    }
    return JAVM_OK;
}

int javm_memory_read(const javm_memory *m, uint32_t addr, uint64_t len, void *buf)
{
    int rc = javm_memory_probe(m, addr, len, JAVM_ACCESS_READ, NULL);
    if (rc == JAVM_OK && len)
        copy_out(m, addr, len, buf);
    return rc;
}

int javm_memory_write(javm_memory *m, uint32_t addr, uint64_t len, const void *buf)
{
    int rc = javm_memory_probe(m, addr, len, JAVM_ACCESS_WRITE, NULL);
    if (rc == JAVM_OK && len)
        return javm_memory_poke(m, addr, len, buf);
    return rc;
}

int javm_memory_peek(const javm_memory *m, uint32_t addr, uint64_t len, void *buf)
{
    if (len > SPACE - addr)
        return JAVM_ERR_MEM_RANGE;
    if (len)
        copy_out(m, addr, len, buf);
    return JAVM_OK;
}

int javm_memory_poke(javm_memory *m, uint32_t addr, uint64_t len, const void *buf)
{
    if (len > SPACE - addr)
        return JAVM_ERR_MEM_RANGE;
    if (len == 0)
        return JAVM_OK;
    materialize_range(m, addr, len);
    memcpy(m->base + addr, buf, len);
    for (uint64_t pg = addr >> 12; (pg << 12) < (uint64_t)addr + len; pg++)
        mark_dirty(m, (uint32_t)pg);
    return JAVM_OK;
}

int javm_memory_set_perm(javm_memory *m, uint64_t start, uint64_t size, javm_perm perm)
{
    if ((start | size) & 0xFFF || start > SPACE || size > SPACE - start)
        return JAVM_ERR_MEM_RANGE;
    uint8_t bits = perm == JAVM_PERM_RW ? EXEC_P_R | EXEC_P_W : perm == JAVM_PERM_RO ? EXEC_P_R : 0;
    for (uint64_t pg = start >> 12; pg < (start + size) >> 12; pg++) {
        touch(m, (uint32_t)pg);
        if ((m->page[pg] & EXEC_P_L) && bits)
            m->page[pg] = (uint8_t)((m->page[pg] & ~(EXEC_P_LR | EXEC_P_LW)) | (bits << 6));
        else if (m->page[pg] & EXEC_P_L) { /* unmapped: the borrowed contents are dropped */
            m->page[pg] = (uint8_t)(m->page[pg] & (EXEC_P_D | EXEC_P_T)), m->src[pg] = NULL;
            /* Mapped again, it reads zero where it read the borrowed bytes: a change, which
             * settle must see (it shares the leaf of a clean page). */
            if (!(m->page[pg] & EXEC_P_D)) {
                m->page[pg] |= EXEC_P_D;
                m->dirty[m->ndirty++] = (uint32_t)pg;
            }
        } else
            m->page[pg] = (uint8_t)((m->page[pg] & ~(EXEC_P_R | EXEC_P_W)) | bits);
    }
    return JAVM_OK;
}

javm_perm javm_memory_get_perm(const javm_memory *m, uint32_t page)
{
    if (page >= JAVM_NUM_PAGES)
        return JAVM_PERM_NONE;
    const uint8_t *src;
    uint8_t s = perm_bits(state_of(m, page, &src));
    return (s & EXEC_P_W) ? JAVM_PERM_RW : (s & EXEC_P_R) ? JAVM_PERM_RO : JAVM_PERM_NONE;
}

const uint32_t *javm_memory_dirty(const javm_memory *m, size_t *n)
{
    *n = m->ndirty;
    return m->dirty;
}

bool javm_memory_is_dirty(const javm_memory *m, uint32_t page)
{
    return page < JAVM_NUM_PAGES && (m->page[page] & EXEC_P_D);
}

bool javm_memory_page_written(const javm_memory *m, uint32_t page)
{
    const uint8_t *src;
    return page < JAVM_NUM_PAGES && (state_of(m, page, &src) & (EXEC_P_WR | EXEC_P_L));
}

void javm_memory_clear_dirty(javm_memory *m)
{
    for (size_t i = 0; i < m->ndirty; i++)
        m->page[m->dirty[i]] &= (uint8_t)~EXEC_P_D;
    m->ndirty = 0;
}
