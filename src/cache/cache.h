/* SPDX-License-Identifier: MIT
 * cache/cache.h — internal design of the cache (caps.md §5): entries, the two tiers, the undo
 * log that makes every operation atomic and doubles as the per-invocation journal, the dirty
 * list written at commit. Design notes: docs/caps-impl.md.
 *
 * Atomicity. Every multi-step operation runs between cache_op_begin and cache_op_end. Inside,
 * each change is logged (cache_undo) before it is applied; if a later step fails, the log is
 * undone back to the operation's mark, which cannot fail (tables never shrink, removed entries
 * and caps are kept by their records). Outside a journal the records are discarded when the
 * outermost operation ends (freeing what removals kept); inside a journal they stay until the
 * journal commits (discard) or aborts (undo to 0). Single-step +1 operations outside a journal
 * (the put and hold hot paths) log nothing.
 *
 * Blob lifecycle. A resident blob entry is live, or dead (refcount 0, cap NULL, kept in the
 * table only because a committed store record must be deleted at the next commit: "queued
 * deletion"). Every blob entry that differs from the store is on the dirty list: not yet
 * stored, refcount changed, or dead. */
#ifndef JAVM_SRC_CACHE_H
#define JAVM_SRC_CACHE_H

#include "cap/cap.h"
#include "util/table.h"

enum {
    CE_WORKING = 1, /* in the working tier (keyed by ref) */
    CE_STORED = 2,  /* the store has a committed record for this hash */
    CE_DEAD = 4,    /* removed; awaiting deletion of the stored record at commit */
    CE_DIRTY = 8    /* on the dirty list */
};

/* The count a blob loaded from a JAVM_STORE_SHARED store starts with: the store's own hold,
 * far from both 0 and JAVM_REFCOUNT_MAX, so it is never reclaimed or changed in place. */
#define CACHE_STORE_HOLD 0x40000000u

/* Entries and their caps are separate heap objects and the tables hold pointers to entries,
 * so growing a table (any insert, any load from the store) never moves an entry or a cap. A
 * cap pointer obtained inside the library therefore stays valid across later cache calls for
 * as long as its blob stays live (held by someone) and its cap is not replaced (U_CAP:
 * javm_cache_working's backup, settle's canonicalisation, both on working entries only). The
 * VM relies on this (issue 13 item 22): op_set_image reads the new Image's pinned list after
 * taking holds on it, settle_post_instance reads the Image's mappings while putting snapshot
 * blobs; both Images are held by the entry. The public API promises less ("lent until the next
 * mutating call") so that this layout may change; whoever changes it must copy first there. */
typedef struct cache_entry {
    javm_cap *cap;
    uint32_t rc;
    uint32_t flags;
    javm_hash hash; /* blob tier */
    javm_ref ref;   /* working tier */
    struct cache_entry *dprev, *dnext; /* dirty list (blobs) */
    struct cache_entry *wnext;         /* release worklist: removal never recurses */
    uint64_t touched; /* journal epoch in which a working() backup was taken */
    uint32_t visit;   /* settle's DFS colour: 0 white, 1 grey, 2 done, 3 done Instance */
    javm_hash settled; /* settle: the snapshot hash of a working Instance (visit 3) */
    /* Log positions of U_RC records of this entry (hints, checked against the log before
     * use): the one that restores its count before the journal, the newest one. */
    size_t rc_first, rc_last;
} cache_entry;

/* The two tiers are util/table.h tables of these slots (linear probing, backward-shift
 * deletion, load <= 1/2). The tag is the first 8 bytes of a hash (already uniform) or a mixed
 * ref, kept beside the pointer so that a probe compares one word before touching the entry: a
 * hit costs one cache line of slots plus the entry. */
typedef struct cache_slot {
    uint64_t tag;
    cache_entry *e;
} cache_slot;

typedef struct cache_tab {
    util_table t; /* of cache_slot */
    bool by_ref;
} cache_tab;

/* The entry in slot i of a walk over a tier (i < cache_tab_cap), NULL for an empty slot. */
static inline size_t cache_tab_cap(const cache_tab *t)
{
    return util_table_cap(&t->t);
}

static inline cache_entry *cache_tab_at(const cache_tab *t, size_t i)
{
    return ((cache_slot *)util_table_at(&t->t, i))->e;
}

/* ref -> hash, filled by settle (graduation): a util/table.h table whose tag is the mixed
 * ref (a bijection, so the tag alone identifies the ref). */
typedef struct cache_fwd_slot {
    uint64_t tag;
    javm_hash hash;
} cache_fwd_slot;

typedef enum cache_undo_kind {
    U_RC,        /* e->rc was u32 */
    U_INSERT,    /* blob e was created and linked */
    U_REVIVE,    /* dead blob e came back with a new cap */
    U_REMOVE,    /* blob e was removed; cap kept; flag: unlinked (else marked dead) */
    U_WINSERT,   /* working e was created */
    U_WREMOVE,   /* working e was removed; cap kept */
    U_MOVE,      /* blob e moved into working e2 (cap transferred); flag: e unlinked */
    U_GRADUATE,  /* working e graduated into blob e2 (cap transferred); flag: e2 revived */
    U_CAP,       /* e->cap replaced; cap = the previous cap */
    U_SLOT,      /* CNode slot u32 of e: flag = had a target, key = old target */
    U_OVERLAY,   /* Instance overlay at start u32 of e: flag = had one, key.hash = old data */
    U_FWD,       /* forward[ref] added */
    U_NAME       /* name index u32: flag bit 0 = was present, bit 1 = appended; key.hash old */
} cache_undo_kind;

typedef struct cache_undo {
    cache_undo_kind kind;
    uint32_t u32;
    uint32_t flag;
    cache_entry *e;
    cache_entry *e2;
    javm_cap *cap;
    javm_key key;
} cache_undo;

typedef struct cache_name {
    uint8_t len;
    uint8_t bytes[JAVM_NAME_MAX];
    bool present;
    bool dirty;
    javm_hash hash;
} cache_name;

/* A pending count change of a chunk or run record (javm_cache.chunk_delta, run_delta): by
 * how much, and where the record's contents are when it has to be written (a chunk with a
 * reference, and the run's group inside it). */
typedef struct cache_delta {
    uint64_t tag;
    int64_t delta;
    javm_chunk *chunk;
    uint8_t n, group; /* the chunk's page slots; the run's group of CAP_RUN_PAGES in it */
    javm_hash h;
} cache_delta;

/* A Data record of format 3 written (d) or deleted (keys: its chunk keys, a copy) by the
 * commit: ceil(n_pages / 64) chunks (javm_cache.puts, dels). */
typedef struct cache_chunks_rec {
    uint64_t nc;
    const javm_data *d;
    uint8_t *keys;
} cache_chunks_rec;

struct javm_cache {
    javm_store *store;
    cache_tab blobs;
    cache_tab work;
    util_table fwd; /* of cache_fwd_slot */
    javm_ref next_ref;
    size_t live_blobs;
    cache_entry dirty; /* sentinel of the circular dirty list */

    cache_undo *log;
    size_t log_len, log_cap;
    int guard;         /* depth of running multi-step operations */
    size_t op_mark;    /* >= the mark of the innermost running operation */
    bool journal;      /* a per-invocation journal is open */
    javm_ka *journal_ka; /* the kernel assist given to javm_journal_begin (rolled back by close) */
    bool txn_open;     /* the journal's store transaction is open (not suspended) */
    uint64_t epoch;    /* journal epoch, for working() backups */
    uint64_t generation;
    uint64_t generation_at_begin;
    uint32_t format;        /* the store's format (1, 2 or 3: docs/store.md) */
    uint32_t format_pending; /* the format the open transaction raises it to (0: none) */
    bool recount_pages;     /* gc's commit: pages recounted instead of released one by one */
    /* The commit's count changes of chunk and run records (pages.c, of cache_delta), applied
     * at its end, so that a Data derived from the one it replaces costs the chunks and runs
     * that differ, not one count per chunk of each */
    util_table chunk_delta, run_delta;
    /* The commit's Data records of format 3, written (borrowed: alive until the commit's end)
     * and deleted (their chunk keys copied), paired at its end so that a Data and the one it
     * was derived from cancel chunk by chunk without a count change each (pages.c) */
    cache_chunks_rec *puts, *dels;
    size_t n_puts, cap_puts, n_dels, cap_dels;

    cache_name *names;
    size_t n_names, cap_names;

    bool has_missing;
    javm_hash missing;
};

/* ---- cache.c ---- */
size_t cache_op_begin(javm_cache *c);
int cache_op_end(javm_cache *c, size_t mark, int rc);
void cache_undo_to(javm_cache *c, size_t mark);
void cache_discard_log(javm_cache *c);
bool cache_logging(const javm_cache *c);

/* The cap of a live blob (resident or loaded from the store) with a status that tells an
 * absent blob (JAVM_ERR_NOT_FOUND) from a store or decode failure (that status): what
 * javm_cache_get_hash reports as NULL either way. The VM uses these (issue 13 item 8). */
int cache_get_hash(javm_cache *c, const javm_hash *h, const javm_cap **out);
int cache_get_key(javm_cache *c, const javm_key *key, const javm_cap **out);

/* Live blob by hash (resident or loaded from the store); *out NULL and JAVM_OK when absent. */
int cache_blob(javm_cache *c, const javm_hash *h, cache_entry **out);
cache_entry *cache_tab_find_hash(cache_tab *t, const javm_hash *h);
cache_entry *cache_working_entry(javm_cache *c, javm_ref ref);
/* Resolves a key to a live entry: a forwarded ref becomes its hash. NULL when absent. */
int cache_resolve(javm_cache *c, const javm_key *key, cache_entry **out);

int cache_rc_inc(javm_cache *c, cache_entry *e, uint32_t n);
/* -1 with removal at 0 and a worklist cascade (logged when logging). */
int cache_rc_dec(javm_cache *c, cache_entry *e);
/* Releases every edge target of a cap (one -1 each), cascading. */
int cache_release_edges(javm_cache *c, const javm_cap *cap);
/* +1 on every edge target (all must resolve: JAVM_ERR_TARGET_MISSING). */
int cache_hold_edges(javm_cache *c, const javm_cap *cap);

/* Inserts a live blob under h with refcount rc taking ownership of cap (logged). */
int cache_blob_insert(javm_cache *c, const javm_hash *h, javm_cap *cap, uint32_t rc,
                      cache_entry **out);
int cache_working_insert(javm_cache *c, javm_cap *cap, uint32_t rc, cache_entry **out);
int cache_log_push(javm_cache *c, const cache_undo *u);
/* Logs e's refcount before a change, unless a record already restores what an undo to the
 * running operation's mark (or, between operations, to the journal's start) needs. */
int cache_log_rc(javm_cache *c, cache_entry *e);
void cache_dirty_add(javm_cache *c, cache_entry *e);
void cache_dirty_del(cache_entry *e);
int cache_tab_insert(cache_tab *t, cache_entry *e);
void cache_tab_remove(cache_tab *t, cache_entry *e);
int cache_tab_reserve(cache_tab *t, size_t more);
int cache_fwd_put(javm_cache *c, javm_ref ref, const javm_hash *h);
int cache_fwd_get(const javm_cache *c, javm_ref ref, javm_hash *out);
void cache_fwd_clear(javm_cache *c);
/* Cold-path checks of put against the cache (§5.3): targets, kinds, overlay extents. */
int cache_check_targets(javm_cache *c, const javm_cap *cap);
int cache_put_internal(javm_cache *c, const javm_cap *cap, javm_cap *owned, javm_hash *out);
/* The blob h if it is live in memory (no store read, no refcount change), else NULL. */
const javm_cap *cache_peek_live(javm_cache *c, const javm_hash *h);
/* +1 on the blob h if it is live in memory (no store read); JAVM_ERR_NOT_FOUND otherwise. */
int cache_hold_live(javm_cache *c, const javm_hash *h);
/* put_owned of a cap whose cap hash the caller computed (h, trusted: the VM's settle computes
 * it from the Data's chunk caches). On failure the caller keeps owned. */
int cache_put_owned_hashed(javm_cache *c, javm_cap *owned, const javm_hash *h, javm_hash *out);
void cache_entry_free(cache_entry *e);
void cache_set_missing(javm_cache *c, const javm_hash *h);
int cache_load_names(javm_cache *c);
/* Sets e's refcount to 0 (logged) and removes it, releasing its edges. */
int cache_drop(javm_cache *c, cache_entry *e);

/* ---- journal.c ---- */
/* Writes every dirty blob and name into the open store transaction. */
int cache_write_dirty(javm_cache *c);

/* Store formats 2 and 3 (pages.c, docs/store.md). Whether cap is written as a
 * CAP_RECORD_DATA_CHUNKS record (a Paged Data with a Loaded page and no Missing one) or as a
 * CAP_RECORD_DATA_REFS record (one with Missing pages), on a store that keeps counts. */
bool cache_by_chunks(const javm_cache *c, const javm_cap *cap);
bool cache_by_ref(const javm_cache *c, const javm_cap *cap);
/* Inside the transaction: the CAP_RECORD_DATA_CHUNKS record of blob h (Data d, which must
 * stay alive and unchanged until the flush), +1 on each of its chunks at the flush (written
 * then if new); the store's format becomes 3 with it. */
int cache_chunks_put(javm_cache *c, const javm_hash *h, const javm_data *d);
/* At the end of the commit's writes: the chunk and run count changes applied, the records of
 * new chunks and runs written and of those no longer named deleted. The changes are dropped
 * whatever the result (cache_pages_discard also drops them, keeping the tables' arrays for the
 * next commit when keep is true). */
int cache_pages_flush(javm_cache *c);
void cache_pages_discard(javm_cache *c, bool keep);
/* Inside the transaction: +1 on each Loaded page of d, writing the pages not yet stored; the
 * store's format becomes 2 with it. */
int cache_pages_ref(javm_cache *c, const javm_data *d);
/* Inside the transaction, before blob h's record is deleted: -1 on each page it names when it
 * is a CAP_RECORD_DATA_REFS record, deleting those no longer named; -1 on each chunk it
 * names at the flush when it is a CAP_RECORD_DATA_CHUNKS record. */
int cache_pages_release(javm_cache *c, const javm_hash *h);
/* Fills a decoded CAP_RECORD_DATA_CHUNKS record's chunks from their chunk records, then the
 * by-hash pages (of those or of a CAP_RECORD_DATA_REFS record) of blob h from their runs, each
 * checked against its hash, and checks the Data's canonical form. */
int cache_pages_fill(javm_store *s, const javm_hash *h, javm_cap *cap);
/* Inside gc's transaction, after the dead records are deleted: every page's count set to the
 * number of by-hash pages of stored Data records that name it, unnamed pages deleted. */
int cache_pages_recount(javm_cache *c);
/* After a successful store commit: dead entries leave, everything else is clean. */
void cache_mark_clean(javm_cache *c);
int cache_store_commit(javm_cache *c, javm_ka *ka);

/* After a write transaction began: drops clean resident blobs and re-reads clean names when
 * another writer has committed since this cache last looked, and remembers the store's
 * generation (journal.c). */
int cache_sync_generation(javm_cache *c);
/* Drops the names without uncommitted changes and reads the stored ones again (cache.c).
 * Only between operations (no undo record names an index). */
int cache_reload_clean_names(javm_cache *c);

/* A growable array of fixed-size elements (gc's and settle's worklists). */
typedef struct cache_vec {
    void *p;
    size_t n, cap;
} cache_vec;

/* Appends one element of `size` bytes (JAVM_ERR_ALLOC). Free with free(v->p). */
int cache_vec_push(cache_vec *v, const void *el, size_t size);

#endif
