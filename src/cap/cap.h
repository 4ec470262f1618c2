/* SPDX-License-Identifier: MIT
 * cap/cap.h — internal interface of the capability layer: the encoder sink shared by hashing,
 * files and the store, edge walking, and the error hook. Design: docs/caps-impl.md. */
#ifndef JAVM_SRC_CAP_H
#define JAVM_SRC_CAP_H

#include <stdatomic.h>

#include <sodium.h>

#include "javm.h"

/* Every internal error is born through cap_error so that one breakpoint finds the first
 * failure; in debug builds it also records the line (see cap.c). */
int cap_error(int status, const char *file, int line);
#ifdef NDEBUG
#define CAP_ERR(s) (s)
#else
#define CAP_ERR(s) cap_error((s), __FILE__, __LINE__)
#endif

/* H("") (the Empty leaf) and Z = H(4096 zero bytes) (caps.md §3.3). */
extern const javm_hash cap_hash_empty;
extern const javm_hash cap_hash_zero_page;
/* Initialises libsodium (sodium_init: idempotent and thread-safe), as its contract asks before
 * any other call; the library's open paths call it. JAVM_ERR_INTERNAL if libsodium cannot
 * start. */
int cap_crypto_init(void);
/* Roots of all-empty CNode subtrees: level 0 is H(0x00), level k is H(0x01 ‖ E[k-1] ‖ E[k-1]).
 * Immutable; checked against a recomputation by tests/test_cap_hash.c. */
extern const javm_hash cap_empty_cnode_roots[JAVM_CNODE_MAX_SIZE_LOG + 1];

/* One encoder serves hashing, files and the store: it writes into a sink that either grows a
 * buffer or feeds a Blake2b state. The first failure sticks in status. */
typedef struct cap_sink {
    uint8_t *buf;
    size_t len;
    size_t cap;
    crypto_generichash_state *hs; /* non-NULL: hash instead of buffering */
    /* non-NULL: pass the bytes on (in pieces of up to CAP_SINK_PIECE, buf staging the small
     * ones; cap_sink_flush writes the rest); a non-zero return becomes status */
    int (*write)(void *warg, const uint8_t *p, size_t n);
    void *warg;
    bool count_only; /* only len grows (the length of an encoding, nothing stored) */
    /* A Paged Data's Loaded pages are written as their hash (`u8 1 ‖ hash`): the body of a
     * store record of kind CAP_RECORD_DATA_REFS, whose pages are stored on their own */
    bool page_refs;
    int status;
} cap_sink;

#define CAP_SINK_PIECE ((size_t)1 << 16)
/* Writes what a write-mode sink still stages; returns status. */
int cap_sink_flush(cap_sink *s);

void cap_sink_bytes(cap_sink *s, const void *p, size_t n);
void cap_sink_u8(cap_sink *s, uint8_t v);
void cap_sink_u32(cap_sink *s, uint32_t v);
void cap_sink_u64(cap_sink *s, uint64_t v);
/* Encodes the body of §11.1 after checking the cap's intrinsic canonical form. */
int cap_encode_body(const javm_cap *cap, cap_sink *s);

/* The next piece of a record being decoded (n = 0: no more); a non-zero status is the
 * source's failure. */
typedef int (*cap_source_fn)(void *arg, const uint8_t **p, size_t *n);
/* cap_decode_record's decoding (kind a cap kind or CAP_RECORD_DATA_REFS) of a body of len
 * bytes that arrives in pieces: first[0..first_n) then what
 * src gives, read as it comes (only the decoded cap is built, never the body whole). With hs
 * every body byte is fed to it (hs initialised by the caller). On failure *src_failed says
 * whether the status is the source's own (then it is returned unchanged) rather than a
 * decode failure of the bytes. Same hostile-input guarantees as javm_cap_decode. */
/* Store record kinds beside the cap kinds (docs/store.md, "Format 2"): a Paged Data whose
 * Loaded pages are named by hash (body as the Data body, each Loaded page `u8 1 ‖ hash`), and
 * a run: the Loaded pages of one group of CAP_RUN_PAGES page slots (slots [16g, 16g + 16)),
 * in order, after the kind byte, keyed by cap_run_key. */
#define CAP_RECORD_DATA_REFS 0x31
#define CAP_RECORD_RUN 0x60
#define CAP_RUN_PAGES 16
/* Format 3 (docs/store.md, "Format 3: chunks"): a Paged Data without Missing pages is a record
 * naming its chunks (CAP_RECORD_DATA_CHUNKS ‖ u64 size ‖ u32 n_pages ‖ one key a chunk, 32
 * zero bytes for a chunk of Empty pages), each chunk a record of its page list
 * (CAP_RECORD_CHUNK ‖ u8 n ‖ n × (u8 state ‖ hash if Loaded), Empty or Loaded only, at least
 * one Loaded) keyed by its hash H(record), and the pages in runs as in format 2. */
#define CAP_RECORD_DATA_CHUNKS 0x32
#define CAP_RECORD_CHUNK 0x61
#define CAP_CHUNK_RECORD_MAX (2 + CAP_CHUNK_PAGES * 33)
/* The record of chunk c's first n page slots into out (CAP_CHUNK_RECORD_MAX bytes): its length,
 * or 0 when the chunk has no record (no Loaded page, or a Missing one). */
size_t cap_chunk_record(const javm_chunk *c, unsigned n, uint8_t *out);
/* Reads a chunk record of n slots (hostile input) into the Empty pages of c: Loaded pages get
 * their hash and no bytes (unfilled). JAVM_ERR_NON_CANONICAL / _TRUNCATED / _TRAILING; a slot
 * count outside 1..CAP_CHUNK_PAGES is NON_CANONICAL, whether n or the record says it (a
 * caller may pass the record's own count). */
int cap_chunk_from_record(const uint8_t *rec, size_t len, unsigned n, javm_chunk *c);
/* The key of run hashes[0..n) (the hashes of its pages, in order, n >= 1):
 * H(0x60 ‖ hashes), apart from every cap hash by its tag and computable from the run's bytes. */
void cap_run_key(const javm_hash *hashes, size_t n, javm_hash *out);
/* Decodes a store record (kind byte ‖ body): a cap record as javm_cap_decode, or a
 * CAP_RECORD_DATA_REFS record into a Paged Data whose by-hash pages are LOADED with bytes
 * NULL (their hash set) until the caller fills them (cap_data_fill_page). err->offset is
 * within the body, as javm_cap_decode's. Same hostile-input guarantees. */
int cap_decode_record(const uint8_t *rec, size_t n, javm_cap **out, javm_decode_err *err);
/* Whether page p is a by-hash page of a decoded CAP_RECORD_DATA_REFS record, not yet filled. */
static inline bool cap_page_unfilled(const javm_page *p)
{
    return p->state == JAVM_PAGE_LOADED && !p->bytes;
}

int cap_decode_stream(uint8_t kind, size_t len, const uint8_t *first, size_t first_n,
                      cap_source_fn src, void *src_arg, crypto_generichash_state *hs,
                      javm_cap **out, javm_decode_err *err, bool *src_failed);

/* Edges in encoding order (Instance: image, root, overlays; CNode: slots; Image: pinned then
 * initial). A non-zero fn result stops the walk and is returned. */
typedef int (*cap_edge_fn)(void *arg, const javm_key *target);
int cap_for_each_edge(const javm_cap *cap, cap_edge_fn fn, void *arg);
/* Number of edges (same walk). */
size_t cap_edge_count(const javm_cap *cap);

/* Little-endian helpers. */
static inline void cap_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void cap_put_u64(uint8_t *p, uint64_t v)
{
    cap_put_u32(p, (uint32_t)v);
    cap_put_u32(p + 4, (uint32_t)(v >> 32));
}
static inline uint32_t cap_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t cap_get_u64(const uint8_t *p)
{
    return (uint64_t)cap_get_u32(p) | (uint64_t)cap_get_u32(p + 4) << 32;
}

bool cap_all_zero(const uint8_t *p, size_t n);
/* Frees every owned pointer of the cap's union member, leaving the cap struct itself. */
void cap_release_fields(javm_cap *cap);
/* Canonical Data from a possibly non-canonical working Data (page hashes recomputed, all-zero
 * pages Empty, trailing zeros stripped, Inline or Paged by size). *out is new. A Missing last
 * page whose size does not fall inside it cannot be canonicalised: JAVM_ERR_NON_CANONICAL. */
int cap_data_canonical(const javm_cap *data, javm_cap **out);
/* Merkle levels (caps.md §4.2) of n leaves, stored level after level: n leaves, then
 * ceil(n/2) nodes, ... up to the root (cap_bmt_total(n) hashes in all, the root last). build
 * fills every level above the leaves already in levels[0..n). update gives the root of the
 * same tree with leaves idx[0..k) (strictly increasing) replaced by val[0..k), hashing only
 * the k paths (idx and val are scratch, overwritten); with copy (a copy of levels, or levels
 * itself) it also writes the new nodes there. Returns the number of nodes hashed. */
uint64_t cap_bmt_total(uint64_t n);
/* H(0x01 ‖ left ‖ right): an inner node of both Merkle trees (out may alias an input). */
void cap_node_hash(const javm_hash *l, const javm_hash *r, javm_hash *out);
void cap_bmt_build(javm_hash *levels, uint64_t n);
uint64_t cap_bmt_update(const javm_hash *levels, uint64_t n, uint64_t *idx, javm_hash *val, size_t k,
                        javm_hash *copy, javm_hash *root);
/* The Data cap hash H(0x30 ‖ u64 size ‖ data_root) (caps.md §4.1). */
void cap_data_hash_of_root(uint64_t size, const javm_hash *root, javm_hash *out);
/* An Image's hash from H(body): H(0x20 ‖ H(body)) (caps.md §4). */
void cap_image_hash_of_body(const javm_hash *body, javm_hash *out);
/* Chunks (javm_data.chunks): the page slots [64c, 64c + 64) of a Paged Data, shared by an
 * atomic reference count between Data values (the VM's settle derives a post-instance Data
 * from its base by sharing every chunk but the changed ones) and copied before a write
 * (cap_data_page_mut). Each chunk owns one reference on each of its page buffers. It caches
 * the Merkle levels over its leaves (caps.md §4.2: leaf i at lv[i], the level above at
 * lv[n], ...), rebuilt along the paths of the leaves marked in `dirty`. Slots past the Data's
 * last page are Empty. Caching writes into a chunk a const Data reads, so a chunk is shared
 * only between Data values of one cache (one thread at a time): javm_cap_clone copies. */
#define CAP_CHUNK_SHIFT 6
#define CAP_CHUNK_PAGES (1u << CAP_CHUNK_SHIFT)
#define CAP_CHUNK_LEVELS (2 * CAP_CHUNK_PAGES - 1)
struct javm_chunk {
    _Atomic uint32_t refs;
    uint8_t lv_n;       /* leaves lv was built for (0: not built) */
    uint8_t node_level; /* node is lv's root paired with itself up to this level (0xFF: none) */
    uint64_t dirty;     /* leaves changed since lv was built */
    uint8_t key_n;      /* key is the key of the chunk's store record as the chunk of key_n
                         * slots (0: not known; cleared by a change): the record names its
                         * slot count, so a key is kept with the count it was made for */
    bool checked;       /* its pages pass the canonical checks of a page that is not the
                         * Data's last one, with n_missing Missing (cleared by a change) */
    uint8_t n_missing;
    bool pending;       /* decoded from a CAP_RECORD_DATA_CHUNKS record: the pages are still
                         * to be read from the chunk record `key` (cache/pages.c) */
    javm_hash node, key;
    javm_page pages[CAP_CHUNK_PAGES];
    javm_hash lv[CAP_CHUNK_LEVELS];
};

static inline uint64_t cap_chunk_count(uint64_t n_pages)
{
    return (n_pages + CAP_CHUNK_PAGES - 1) >> CAP_CHUNK_SHIFT;
}
/* The page slots of chunk j (< cap_chunk_count(n_pages)) of a Data of n_pages pages: 64, or
 * the rest for the last chunk. */
static inline unsigned cap_chunk_slots(uint64_t n_pages, uint64_t j)
{
    uint64_t left = n_pages - j * CAP_CHUNK_PAGES;
    return left < CAP_CHUNK_PAGES ? (unsigned)left : CAP_CHUNK_PAGES;
}
/* A new chunk of Empty pages (refs 1), NULL on allocation failure. */
javm_chunk *cap_chunk_new(void);
void cap_chunk_ref(javm_chunk *c);
/* Drops a reference (NULL allowed); at 0 the chunk's page buffers are released and it is freed. */
void cap_chunk_unref(javm_chunk *c);
/* Page i of d (paged, i < n_pages) made writable: its chunk allocated if NULL and copied if
 * shared, the page marked changed for the Merkle cache. NULL on allocation failure. The caller
 * keeps n_missing right. */
javm_page *cap_data_page_mut(javm_data *d, uint64_t i);
/* Gives the unfilled page i of a decoded record its bytes (checked against its hash by the
 * caller): the value is the same, so the chunk's caches and key stay. d's own chunk. */
void cap_data_page_fill(javm_data *d, uint64_t i, uint8_t *bytes);
/* A Paged Data of n_pages pages sharing the chunks chunks[0..ceil(n_pages / 64)) (NULL ones
 * Empty), with n_missing Missing pages among them, and a copy of top (the Merkle cache of a
 * Data with those chunks, or NULL); size 0 (the caller sets it). O(n_pages / 64). */
int cap_data_derive(javm_chunk *const *chunks, uint64_t n_pages, uint64_t n_missing, const javm_hash *top,
                    javm_cap **out);
/* Frees d's paged form (chunks, Merkle cache). */
void cap_data_free_pages(javm_data *d);
/* The page-slot array of d's paged form, allocated with every chunk NULL (n_pages set). */
int cap_data_alloc_pages(javm_data *d, uint64_t n_pages);
/* An Empty page (javm_data_page's answer inside a NULL chunk). */
extern const javm_page cap_page_empty;
/* The Merkle root of a Paged Data's leaves (caps.md §4.2), from and into its caches.
 * *hashed (may be NULL) grows by the inner nodes hashed. JAVM_ERR_ALLOC. */
int cap_data_pages_root(const javm_data *d, javm_hash *root, uint64_t *hashed);

/* Page buffers: every Loaded page's bytes are allocated here with a reference count of 1
 * (cap.c); ref adds a sharer, unref (NULL allowed) frees at 0. A shared buffer is never
 * written: cap_data_unshare gives every shared page of d a private copy (JAVM_ERR_ALLOC). */
uint8_t *cap_page_alloc(void);
void cap_page_ref(const uint8_t *bytes);
void cap_page_unref(uint8_t *bytes);
bool cap_page_shared(const uint8_t *bytes);
int cap_data_unshare(javm_data *d);
/* True if the Data is in canonical form (same check as javm_cap_check). */
bool cap_data_is_canonical(const javm_data *d);

#endif
