/* SPDX-License-Identifier: MIT
 * javm/cap.h — capability layer: cap kinds, canonical encodings, cap hash, the cache, the
 * store interface and the kernel assist (reference: docs/caps.md).
 * Part of the public API; include <javm.h>, not this file. Design notes: docs/caps-impl.md. */
#ifndef JAVM_CAP_H
#define JAVM_CAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ==== identifiers (caps.md §2) ============================================================ */

/* CapHash: the 32-byte cap hash of §4, compared bytewise, ordered lexicographically. */
typedef struct javm_hash {
    uint8_t b[32];
} javm_hash;

/* CapRef: names a working entry of one cache. Allocated from 1 upward, never reused; 0 is
 * invalid. Never serialised, hashed, persisted or given to the kernel assist. */
typedef uint64_t javm_ref;

/* CapHashOrRef: a cache key and an edge of a CNode or Instance. NONE is only used where an
 * operation accepts "no target" (an empty slot). */
typedef enum javm_key_tag {
    JAVM_KEY_NONE = 0,
    JAVM_KEY_HASH = 1,
    JAVM_KEY_REF = 2
} javm_key_tag;

typedef struct javm_key {
    javm_key_tag tag;
    union {
        javm_hash hash; /* tag == JAVM_KEY_HASH */
        javm_ref ref;   /* tag == JAVM_KEY_REF */
    };
} javm_key;

static inline javm_key javm_key_of_hash(const javm_hash *h)
{
    javm_key k;
    k.tag = JAVM_KEY_HASH;
    k.hash = *h;
    return k;
}

static inline javm_key javm_key_of_ref(javm_ref r)
{
    javm_key k;
    k.tag = JAVM_KEY_REF;
    k.hash = (javm_hash){{0}};
    k.ref = r;
    return k;
}

/* ==== the five cap kinds (caps.md §3) ===================================================== */

/* The kind byte is the hash tag (§4), the file kind byte and the blob record's first byte. */
typedef enum javm_kind {
    JAVM_KIND_INSTANCE = 0x10,
    JAVM_KIND_IMAGE = 0x20,
    JAVM_KIND_DATA = 0x30,
    JAVM_KIND_CNODE = 0x40,
    JAVM_KIND_TYPE = 0x50
} javm_kind;

/* Instance (§3.1). overlays sorted by strictly increasing start, each page-aligned. */
typedef struct javm_overlay {
    uint32_t start;
    javm_hash data; /* an edge: a Data cap of size >= 1 */
} javm_overlay;

typedef struct javm_instance {
    javm_hash image_hash_chain;
    javm_hash image_hash;
    javm_key root_cnode; /* HASH in a blob; HASH or REF in a working entry */
    javm_overlay *overlays;
    uint32_t n_overlays;
    uint32_t cap_overlays; /* allocated elements of overlays */
    uint32_t mem_size;
    uint64_t regs[13];
    uint64_t pc;
    uint64_t gas_remaining;
} javm_instance;

/* Image (§3.2). */
typedef struct javm_endpoint {
    uint64_t entry_pc; /* < 2^32 */
    uint64_t stack_top;
    uint32_t arg_cnode_slot;
    uint8_t arg_cnode_size; /* <= 16 */
    uint64_t initial_regs[13];
} javm_endpoint;

typedef struct javm_mapping {
    uint64_t start;    /* page-aligned */
    uint64_t size;     /* >= 1; start + size <= 2^32 */
    uint8_t flags;     /* bit 0: writable; other bits zero */
    uint8_t path_len;  /* <= JAVM_MAX_SOURCE_DEPTH */
    uint32_t path[8];  /* source slot path of the initial Data */
} javm_mapping;

typedef struct javm_slot_cap {
    uint32_t slot;
    javm_hash cap; /* an edge */
} javm_slot_cap;

typedef struct javm_image {
    uint8_t *code;
    uint32_t code_len;
    uint8_t *bitmask; /* ceil(code_len / 8) bytes, packed as pvm.md §9.2 */
    uint32_t bitmask_len;
    uint32_t *jump_table;
    uint32_t jt_count;
    javm_endpoint *endpoints;
    uint32_t n_endpoints;
    javm_mapping *mappings;
    uint32_t n_mappings;
    javm_slot_cap *pinned;
    uint32_t n_pinned;
    javm_slot_cap *initial;
    uint32_t n_initial;
    bool has_yield_marker;
    uint32_t yield_marker_slot;
} javm_image;

/* Data (§3.3). A Loaded page holds 4096 bytes and carries page_hash = H(bytes); a Missing
 * page carries only its hash; an Empty page is zeros. Page buffers are allocated by the
 * library (javm_data_new, javm_data_page_load, decoding) and may be shared by reference count
 * between Data values in one cache (§3.3): never assign `bytes` yourself; write page bytes
 * only through javm_data_page_load or javm_cache_working (which first makes them private). */
typedef enum javm_page_state {
    JAVM_PAGE_EMPTY = 0,
    JAVM_PAGE_LOADED = 1,
    JAVM_PAGE_MISSING = 2
} javm_page_state;

typedef struct javm_page {
    javm_page_state state;
    uint8_t *bytes; /* LOADED: JAVM_PAGE_SIZE bytes; NULL otherwise */
    javm_hash hash; /* LOADED, MISSING: the page hash */
} javm_page;

/* The page slots of a Paged Data are held in chunks of 64 (opaque; src/cap/cap.h): a chunk is
 * shared by reference count between Data values of one cache and copied before it is
 * written, and caches its part of the Merkle tree, so that a Data differing from another in k
 * pages costs O(k) pages and O(pages / 64) pointers to build and hash (docs/caps-impl.md).
 * Read page i with javm_data_page; change pages only through the calls below. */
typedef struct javm_chunk javm_chunk;

typedef struct javm_data {
    uint64_t size;       /* index of the last non-zero byte + 1 */
    bool paged;          /* canonical iff size > JAVM_DATA_INLINE_MAX */
    uint8_t *bytes;      /* inline form: size bytes (NULL when size is 0) */
    javm_chunk **chunks; /* paged form: ceil(n_pages / 64) chunks, NULL for 64 Empty pages */
    uint64_t n_pages;    /* paged form: ceil(size / 4096) */
    uint64_t n_missing;  /* paged form: how many pages are Missing. Kept by the library
                          * (javm_data_page_load / _missing, decoding, clone); javm_cap_check
                          * refuses a Data whose count is wrong, so the VM can trust it */
    javm_hash *top;      /* the library's cache of the Merkle levels above the chunks */
} javm_data;

/* Page i of a Paged Data (i < n_pages; an Empty page for a NULL chunk), or NULL when the Data
 * is not Paged or i is out of range. Borrowed; valid until the Data is changed or freed. The
 * bytes of a Loaded page may be written only in a Data lent by javm_cache_working. */
JAVM_API const javm_page *javm_data_page(const javm_data *d, uint64_t i);

/* CNode (§3.4): populated slots, sorted by strictly increasing slot. */
typedef struct javm_cnode_slot {
    uint32_t slot;
    javm_key target; /* HASH in a blob; HASH or REF in a working entry */
} javm_cnode_slot;

typedef struct javm_cnode {
    uint8_t size_log; /* 0..JAVM_CNODE_MAX_SIZE_LOG */
    uint32_t n_slots;
    uint32_t cap_slots; /* allocated elements of slots */
    javm_cnode_slot *slots;
} javm_cnode;

/* Type (§3.5). */
typedef struct javm_type {
    javm_hash image_hash_chain;
} javm_type;

/* A cap value. Built with the constructors below, which allocate with malloc; every
 * pointer inside is owned by the cap and released by javm_cap_free. Fields may be read
 * freely; write them only on a cap you own (not one lent by the cache, except through
 * javm_cache_working). */
typedef struct javm_cap {
    javm_kind kind;
    union {
        javm_instance instance;
        javm_image image;
        javm_data data;
        javm_cnode cnode;
        javm_type type;
    };
} javm_cap;

/* ---- constructors and destructor ------------------------------------------------------- */

/* Each constructor stores a new cap in *out (caller owns it; free with javm_cap_free) or
 * returns a negative status and leaves *out untouched. JAVM_ERR_ALLOC on out of memory. */

/* Canonical Data of `len` bytes (read only during the call): trailing zeros stripped, Inline
 * when the stripped size is <= 4096, otherwise Paged with all-zero pages Empty and every
 * other page Loaded and hashed. */
JAVM_API int javm_data_new(const uint8_t *bytes, uint64_t len, javm_cap **out);
/* Paged Data of `size` bytes with ceil(size/4096) Empty pages, to be filled with
 * javm_data_page_load / javm_data_page_missing. Not canonical until filled (§3.3). */
JAVM_API int javm_data_new_paged(uint64_t size, javm_cap **out);
/* Page i becomes Loaded with a copy of 4096 bytes and their hash (JAVM_ERR_INVALID_ARG for a
 * non-paged Data or i out of range). */
JAVM_API int javm_data_page_load(javm_cap *data, uint64_t i, const uint8_t *page);
/* Page i becomes Missing(hash). Same errors. */
JAVM_API int javm_data_page_missing(javm_cap *data, uint64_t i, const javm_hash *hash);
/* Copies logical bytes [off, off + n) of a Data (zeros past size, Empty pages as zeros) into
 * dst. JAVM_ERR_DATA_MISSING if a Missing page meets the range (dst then unspecified),
 * JAVM_ERR_WRONG_KIND for a non-Data cap. */
JAVM_API int javm_data_read(const javm_cap *data, uint64_t off, uint8_t *dst, uint64_t n);
/* Length of b[0..n) without its trailing zero bytes. */
JAVM_API uint64_t javm_strip_len(const uint8_t *b, uint64_t n);

/* Empty CNode of 2^size_log slots (JAVM_ERR_INVALID_CNODE_SIZE above 16). */
JAVM_API int javm_cnode_new(unsigned size_log, javm_cap **out);
/* Sets (target of tag HASH or REF) or clears (target NULL or tag NONE) a slot of a CNode you
 * own. JAVM_ERR_SLOT_OUT_OF_RANGE, JAVM_ERR_WRONG_KIND, JAVM_ERR_ALLOC. No refcounts: this is
 * a value, not a cache entry. */
JAVM_API int javm_cnode_set_slot(javm_cap *cnode, uint32_t slot, const javm_key *target);
/* The target of a slot, or NULL when empty or out of range. Borrowed from the cap. */
JAVM_API const javm_key *javm_cnode_get_slot(const javm_cap *cnode, uint32_t slot);

JAVM_API int javm_type_new(const javm_hash *chain, javm_cap **out);

/* Instance with no overlays, mem_size 0, zero registers, pc and gas. root is HASH or REF. */
JAVM_API int javm_instance_new(const javm_hash *chain, const javm_hash *image_hash, const javm_key *root,
                      javm_cap **out);
/* Appends an overlay (order and extents are checked by put and the encoder). JAVM_ERR_LIMIT
 * past JAVM_MAX_OVERLAYS. */
JAVM_API int javm_instance_add_overlay(javm_cap *inst, uint32_t start, const javm_hash *data);

/* Image with copies of code and bitmask and empty lists. Further lists are appended with the
 * javm_image_add_* calls (copies; order is checked by put and the encoder). */
JAVM_API int javm_image_new(const uint8_t *code, uint32_t code_len, const uint8_t *bitmask,
                   uint32_t bitmask_len, javm_cap **out);
JAVM_API int javm_image_set_jump_table(javm_cap *img, const uint32_t *entries, uint32_t n);
JAVM_API int javm_image_add_endpoint(javm_cap *img, const javm_endpoint *ep);
JAVM_API int javm_image_add_mapping(javm_cap *img, const javm_mapping *m);
JAVM_API int javm_image_add_pinned(javm_cap *img, uint32_t slot, const javm_hash *cap);
JAVM_API int javm_image_add_initial(javm_cap *img, uint32_t slot, const javm_hash *cap);

/* Deep copy (page bytes included). */
JAVM_API int javm_cap_clone(const javm_cap *cap, javm_cap **out);
/* Releases a cap and everything it owns. NULL is a no-op. */
JAVM_API void javm_cap_free(javm_cap *cap);
/* Releases memory the library handed to the caller (encodings, files). NULL is a no-op. */
JAVM_API void javm_free(void *p);

/* Checks every intrinsic §3 / §11 constraint (not the overlay extents, which need the cache).
 * JAVM_OK, JAVM_ERR_NON_CANONICAL, JAVM_ERR_INVALID_CNODE_SIZE, JAVM_ERR_BAD_KIND or
 * JAVM_ERR_LIMIT (an Image encoding above JAVM_MAX_IMAGE_SIZE, more than JAVM_MAX_OVERLAYS
 * overlays). REF edges
 * are allowed here (a working entry may hold them). */
JAVM_API int javm_cap_check(const javm_cap *cap);

/* ==== hashing (caps.md §4) ================================================================ */

/* The kind-tagged Blake2b-256 cap hash. Reads cap; writes *out. JAVM_ERR_UNSETTLED if a REF is
 * reached, JAVM_ERR_ALLOC (large Paged Data needs a Merkle buffer). Only an Image is checked
 * for canonical form (its hash goes through the encoder: JAVM_ERR_NON_CANONICAL); other kinds
 * are hashed as they are, and javm_cap_check or put check them. */
JAVM_API int javm_cap_hash(const javm_cap *cap, javm_hash *out);
/* H(x): unkeyed Blake2b with a 32-byte digest. */
JAVM_API void javm_blake2b(const void *x, size_t len, javm_hash *out);
/* Image-hash chain extension (§4.4): out = H(chain ‖ image_hash). Genesis is image_hash. */
JAVM_API void javm_chain_extend(const javm_hash *chain, const javm_hash *image_hash, javm_hash *out);
/* 64 lowercase hex digits and a NUL into hex[65]. */
JAVM_API void javm_hash_to_hex(const javm_hash *h, char hex[65]);
/* Parses 64 hex digits; JAVM_ERR_INVALID_ARG otherwise. */
JAVM_API int javm_hash_from_hex(const char *hex, javm_hash *out);

/* ==== encodings and files (caps.md §11) =================================================== */

/* Where a decoder stopped: its reason (a negative status) and the byte offset in the input.
 * For JAVM_ERR_TARGET_MISSING from javm_image_load / javm_cap_import, `missing` is the hash. */
typedef struct javm_decode_err {
    int reason;
    uint64_t offset;
    bool has_missing;
    javm_hash missing;
} javm_decode_err;

/* Canonical body of §11.1 (without the kind byte). On success *out (javm_free) holds *len
 * bytes. JAVM_ERR_UNSETTLED (a REF), JAVM_ERR_NON_CANONICAL, JAVM_ERR_INVALID_CNODE_SIZE,
 * JAVM_ERR_ALLOC. */
JAVM_API int javm_cap_encode(const javm_cap *cap, uint8_t **out, size_t *len);
/* Decodes a body of the given kind, treating the input as hostile: every read bounded, counts
 * checked against the remaining bytes before allocating, every §3 constraint enforced,
 * trailing bytes rejected. On failure returns the reason (JAVM_ERR_TRUNCATED, _OVERSIZED,
 * _BAD_KIND, _TRAILING, _NON_CANONICAL, _INVALID_CNODE_SIZE, _ALLOC, and _LIMIT for an Image
 * body above JAVM_MAX_IMAGE_SIZE or an overlay count above JAVM_MAX_OVERLAYS, both checked
 * before allocating) and, if err is not NULL,
 * fills it with the reason and offset. */
JAVM_API int javm_cap_decode(uint8_t kind, const uint8_t *body, size_t len, javm_cap **out,
                    javm_decode_err *err);
/* JCAP export file: "JCAP" ‖ u32 1 ‖ kind ‖ body. Shallow (edges stay hashes). */
JAVM_API int javm_cap_export(const javm_cap *cap, uint8_t **out, size_t *len);
/* Parses a JCAP file (JAVM_ERR_BAD_MAGIC, _BAD_VERSION, _BAD_KIND and the body errors). */
JAVM_API int javm_cap_parse_export(const uint8_t *file, size_t len, javm_cap **out, javm_decode_err *err);

/* ==== store interface (caps.md §5.7) ====================================================== */

typedef enum javm_table {
    JAVM_TABLE_BLOBS = 0,     /* 32-byte hash -> kind byte ‖ body */
    JAVM_TABLE_REFCOUNTS = 1, /* 32-byte hash -> u32 LE */
    JAVM_TABLE_FILES = 2,     /* u64 BE file id -> 32-byte hash */
    JAVM_TABLE_QUOTAS = 3,    /* u64 BE quota id -> u64 LE */
    JAVM_TABLE_NAMES = 4,     /* 1..255 name bytes -> 32-byte Instance hash */
    JAVM_TABLE_META = 5,      /* ASCII name -> value */
    JAVM_TABLE_COUNT = 6
} javm_table;

typedef struct javm_store javm_store;
typedef struct javm_store_collect javm_store_collect; /* below the vtbl */

/* Called by scan for each record in ascending key order (memcmp, shorter first on a tie).
 * key and val are borrowed for the call only. A non-zero return stops the scan and is
 * returned by scan. */
typedef int (*javm_store_scan_fn)(void *arg, const uint8_t *key, size_t klen,
                                  const uint8_t *val, size_t vlen);

/* The pieces of a streamed record (vtbl put_stream / get_stream). */
typedef int (*javm_store_write_fn)(void *warg, const uint8_t *p, size_t n);
typedef int (*javm_store_read_fn)(void *rarg, const uint8_t **p, size_t *n);

/* A byte-string key/value store with six tables and one write transaction at a time, whose
 * reads see its own writes (an LMDB environment with six named databases fits unchanged).
 * Every function returns JAVM_OK or a negative status; no store-specific code leaks through
 * (JAVM_ERR_STORE or a JAVM_ERR_STORE_* detail). */
typedef struct javm_store_vtbl {
    /* Reads a record: through the open write transaction if there is one, else the last
     * committed state. *val is borrowed until the next put/del/commit/abort/close on the store.
     * JAVM_ERR_NOT_FOUND when absent. */
    int (*get)(javm_store *s, javm_table t, const uint8_t *key, size_t klen, const uint8_t **val,
               size_t *vlen);
    /* Opens the write transaction (JAVM_ERR_BUSY if one is open). */
    int (*begin)(javm_store *s);
    /* Writes inside the open transaction (JAVM_ERR_INVALID_ARG without one); key and val are
     * copied. Deleting an absent key succeeds. */
    int (*put)(javm_store *s, javm_table t, const uint8_t *key, size_t klen, const uint8_t *val,
               size_t vlen);
    int (*del)(javm_store *s, javm_table t, const uint8_t *key, size_t klen);
    /* Publishes every write of the transaction atomically and closes it. On failure the
     * transaction is aborted and nothing is published. */
    int (*commit)(javm_store *s);
    /* Discards the transaction's writes; no-op without one. */
    void (*abort)(javm_store *s);
    /* Visits a table in ascending key order, through the transaction if one is open. */
    int (*scan)(javm_store *s, javm_table t, javm_store_scan_fn cb, void *arg);
    /* Aborts any open transaction and frees the store. */
    void (*close)(javm_store *s);
    /* Optional (NULL for stores that keep refcounts): inside the open write transaction of a
     * JAVM_STORE_SHARED store, says that what the transaction commits refers to the stored blob
     * hash (32 bytes) without writing it, so the store's own gc keeps it (docs/scale-out.md §3
     * step 2). JAVM_ERR_NOT_FOUND when the blob is no longer stored: the caller writes it
     * again (put) if it still has it. */
    int (*touch)(javm_store *s, const uint8_t *hash);
    /* Optional (NULL: javm_gc does the collection itself from stored refcounts): the store's
     * own garbage collection, for a JAVM_STORE_SHARED store; called by javm_gc outside any
     * transaction. */
    int (*collect)(javm_store *s, const javm_store_collect *how);
    /* put_stream and get_stream come last so that a vtbl written before them (by position or
     * by name) still compiles, its missing members NULL; a binary built against the older,
     * shorter struct must be rebuilt. docs/store.md "Streamed blobs" says what each backend
     * holds in memory meanwhile.
     *
     * Optional (NULL: the cache uses put): put of a record of exactly len bytes whose bytes the
     * caller produces piece by piece, so the store never needs them in one caller buffer.
     * The store calls produce(arg, write, warg) once (again only if it must start the record
     * over: RADOS when gc removed the blob between its create and the touch); produce calls
     * write(warg, p, n) for consecutive pieces (p borrowed for the call; the pieces' lengths
     * add up to len) and returns JAVM_OK or a status, which put_stream returns (a write that
     * fails returns its status, which produce passes on). Pieces past len, or fewer bytes
     * than len, are JAVM_ERR_INVALID_ARG; on any failure nothing becomes readable under key
     * (LMDB poisons the transaction as after a failed put; RADOS may leave chunks for its gc).
     * Same transaction rules as put. */
    int (*put_stream)(javm_store *s, javm_table t, const uint8_t *key, size_t klen, uint64_t len,
                      int (*produce)(void *arg, javm_store_write_fn write, void *warg), void *arg);
    /* Optional (NULL: the cache uses get): get of a record handed over piece by piece. The
     * store calls consume(arg, len, read, rarg) once with the record's length; each call of
     * read(rarg, &p, &n) gives the next piece (n >= 1, p borrowed until the next read or the
     * end of get_stream), then n = 0 once len bytes were given; read's other statuses are the
     * store's failures (a missing chunk is JAVM_ERR_STORE_CORRUPT). consume's status is
     * returned (consume may stop early). JAVM_ERR_NOT_FOUND (consume not called) when absent.
     * Reads as get does (through the open write transaction if there is one); consume must
     * not call the store (LMDB holds a read transaction open, RADOS reads in flight). */
    int (*get_stream)(javm_store *s, javm_table t, const uint8_t *key, size_t klen,
                      int (*consume)(void *arg, uint64_t len, javm_store_read_fn read, void *rarg),
                      void *arg);
} javm_store_vtbl;

/* Called by javm_store_collect's edges for each hash a record refers to; non-zero stops. */
typedef int (*javm_store_edge_fn)(void *arg, const uint8_t *hash);

/* What a shared store's collect needs from the layer above it, which knows the record format:
 * the roots and how to find a record's edges. */
struct javm_store_collect {
    const uint8_t (*roots)[32]; /* the embedder's roots, besides the store's names and files */
    size_t n_roots;
    /* Whether a record whose kind byte is kind can have edges (false: never read to mark). */
    bool (*may_have_edges)(void *arg, uint8_t kind);
    /* Checks the record (kind byte ‖ body) of hash and calls add for each hash it refers to;
     * a record that does not decode or hash to its key is JAVM_ERR_STORE_CORRUPT. */
    int (*edges)(void *arg, const uint8_t *hash, const uint8_t *rec, size_t n,
                 javm_store_edge_fn add, void *add_arg);
    void *arg;
    /* Optional (NULL: none): called as each step ends ("fenced", "marked", "stamped" (the
     * unreachable blobs' stamps are read: the deletes come next), "swept"), for progress and
     * for tests that race a client against a step. */
    void (*step)(void *arg, const char *name);
};

/* Every store implementation starts with this header (zero-filled at creation). */
struct javm_store {
    const javm_store_vtbl *vtbl;
    /* The last failure's detail ("" when none), read with javm_store_errmsg (javm/store.h):
     * written by the store and by the cache when a record does not decode. */
    char errmsg[192];
    /* One-shot observer of the end of the open write transaction: set inside it (by a kernel
     * assist's persist), called once by commit (committed = true only on success) or abort,
     * then cleared. Lets a buffered writer learn whether its writes were published, so a
     * failed javm_commit keeps them for a retry. */
    void (*txn_end)(void *arg, bool committed);
    void *txn_end_arg;
    /* JAVM_STORE_* bits, set by the store at creation. */
    uint32_t flags;
};

/* Several processes commit to the store without a global write lock (the RADOS store,
 * docs/scale-out.md §4): the store keeps no refcounts and no global generation, so a cache on it
 * never reads or writes the refcounts table, never deletes a blob (the store's own gc does),
 * counts a loaded blob as held by the store (it is never reclaimed or changed in place), reads
 * each name through the store when it uses it, and keeps a paused invocation's transaction
 * open (javm_journal_suspend holds no lock on such a store). Its commits touch what they refer
 * to without writing it (vtbl touch), and javm_gc runs the store's own collect (vtbl collect;
 * JAVM_ERR_STORE_UNSUPPORTED without one). */
#define JAVM_STORE_SHARED 1u

/* A new in-memory store (tables in hash maps; a transaction's writes are applied atomically at
 * commit). Free with javm_store_close. */
JAVM_API int javm_store_mem_new(javm_store **out);
/* Calls s->vtbl->close; NULL is a no-op. */
JAVM_API void javm_store_close(javm_store *s);

/* ==== kernel assist (caps.md §9) ========================================================== */

typedef struct javm_ka javm_ka;

/* Functions receive the javm_ka pointer as `ka`. Contracts as caps.md §9. */
typedef struct javm_ka_vtbl {
    uint64_t (*gas_meter_get)(void *ka, uint64_t meter_id);
    uint64_t (*gas_meter_set)(void *ka, uint64_t meter_id, uint64_t v); /* returns previous */
    uint64_t (*storage_quota_get)(void *ka, uint64_t quota_id);         /* 0 when absent */
    uint64_t (*storage_quota_set)(void *ka, uint64_t quota_id, uint64_t v); /* never fails */
    uint64_t (*yield_catcher_nonce)(void *ka); /* returns the next nonce, then increments it */
    int (*yield_catcher_register)(void *ka, const javm_hash *catcher);
    int (*yield_catcher_add)(void *ka, const javm_hash *catcher, const javm_hash *marker);
    int (*yield_catcher_remove)(void *ka, const javm_hash *catcher, const javm_hash *marker);
    bool (*yield_catcher_contains)(void *ka, const javm_hash *catcher, const javm_hash *marker);
    int (*host_open)(void *ka, uint64_t file_id, javm_hash *out); /* JAVM_ERR_NOT_FOUND */
    /* quota(q) < size: JAVM_ERR_QUOTA, nothing changed. Else quota(q) -= size,
     * files[next_file_id] = data, *file_id = next_file_id++. */
    int (*host_save)(void *ka, const javm_hash *data, uint64_t quota_id, uint64_t size,
                     uint64_t *file_id);
    /* Visits every file record in increasing id order; a non-zero cb result stops and is
     * returned. */
    int (*file_iter)(void *ka, int (*cb)(void *arg, uint64_t id, const javm_hash *h), void *arg);
    int (*begin)(void *ka, javm_store *store);   /* open a journal */
    int (*persist)(void *ka, javm_store *store); /* write changes into the open transaction */
    void (*rollback)(void *ka);                  /* discard the changes made since begin */
    void (*destroy)(void *ka);                   /* frees the kernel assist (javm_ka_free) */
    /* Optional (NULL: storage_quota_get is used): the quota with a status, so that a failed
     * read is not taken for a quota of 0 (0 and JAVM_OK when absent). */
    int (*storage_quota_read)(void *ka, uint64_t quota_id, uint64_t *out);
} javm_ka_vtbl;

/* Every kernel-assist implementation starts with this header. */
struct javm_ka {
    const javm_ka_vtbl *vtbl;
};

/* The in-process kernel assist: quotas, gas meters, files and catchers in memory; begin and
 * rollback snapshot and restore quotas, files and next_file_id; persist does nothing. */
JAVM_API int javm_ka_mem_new(javm_ka **out);
/* Calls ka->vtbl->destroy; NULL is a no-op. */
JAVM_API void javm_ka_free(javm_ka *ka);

/* ==== the cache (caps.md §5) ============================================================== */

typedef struct javm_cache javm_cache;
struct javm_vm; /* the VM layer's handle (caps.md §6) */

/* Opens a cache on a store (borrowed: it must outlive the cache). A fresh store is given the
 * meta records format = 1 and hash_profile = blake2b-256-tagged; an existing one must carry
 * them (JAVM_ERR_STORE_FORMAT). Names are read from the store; blobs are loaded on demand. */
JAVM_API int javm_cache_open(javm_store *store, javm_cache **out);
/* Frees the cache, its working entries and uncommitted changes. An open journal is aborted
 * like javm_journal_abort, the kernel assist given to javm_journal_begin included (so it
 * must still be alive). NULL is a no-op. */
JAVM_API void javm_cache_close(javm_cache *cache);

/* The cap a key names (a blob by hash, a working entry by ref, a graduated ref through the
 * forwarding map), loading a stored blob on a miss, or NULL when absent or the load failed
 * (javm_cache_refcount returns the status that tells which). No refcount change. The pointer is lent until the next mutating call on the cache. */
JAVM_API const javm_cap *javm_cache_get(javm_cache *cache, const javm_key *key);
JAVM_API const javm_cap *javm_cache_get_hash(javm_cache *cache, const javm_hash *h);
/* The refcount of a present entry (JAVM_ERR_NOT_FOUND). */
JAVM_API int javm_cache_refcount(javm_cache *cache, const javm_key *key, uint32_t *out);

/* Puts a cap (read only; deep-copied on the cold path) and gives the caller one hold on its
 * hash, written to *out. Hot path (present): refcount + 1 only. Cold path: intrinsic
 * canonical form (JAVM_ERR_NON_CANONICAL, _INVALID_CNODE_SIZE), no REF (JAVM_ERR_UNSETTLED),
 * every target present (JAVM_ERR_TARGET_MISSING; javm_cache_last_missing names it), an
 * Instance's image an Image, root a CNode and overlays Data (JAVM_ERR_WRONG_KIND), overlay
 * extents (JAVM_ERR_NON_CANONICAL); +1 on each target. Also _REFCOUNT_OVERFLOW, _ALLOC. */
JAVM_API int javm_cache_put(javm_cache *cache, const javm_cap *cap, javm_hash *out);
/* As javm_cache_put, but takes ownership of *cap on success (no deep copy); on failure the
 * caller keeps it. */
JAVM_API int javm_cache_put_owned(javm_cache *cache, javm_cap *cap, javm_hash *out);
/* +1 on a present blob (JAVM_ERR_NOT_FOUND, _REFCOUNT_OVERFLOW). */
JAVM_API int javm_cache_hold(javm_cache *cache, const javm_hash *h);
/* A new working entry (Data, CNode or Instance: JAVM_ERR_NON_MUTABLE_KIND) with a deep copy
 * of cap, refcount 1, +1 on each target (which must exist: JAVM_ERR_TARGET_MISSING).
 * Intrinsic checks as put, except REF edges are allowed and Data need not be canonical. */
JAVM_API int javm_cache_put_working(javm_cache *cache, const javm_cap *cap, javm_ref *out);
/* +1 / -1 on an entry (JAVM_ERR_NOT_FOUND). At 0 the entry is removed and its edges
 * released, with a worklist. */
JAVM_API int javm_cache_incref(javm_cache *cache, const javm_key *key);
JAVM_API int javm_cache_decref(javm_cache *cache, const javm_key *key);
/* Copy-on-write (§5.3): consumes one hold on key and returns a working ref holding one.
 * A REF comes back as is. JAVM_ERR_NON_MUTABLE_KIND (Image, Type), JAVM_ERR_NOT_FOUND. */
JAVM_API int javm_cache_get_mut(javm_cache *cache, const javm_key *key, javm_ref *out);
/* Edits a working CNode's slot: +1 on the new target (NULL or NONE empties the slot), then the
 * old target is released. JAVM_ERR_NOT_FOUND, _WRONG_KIND, _SLOT_OUT_OF_RANGE. */
JAVM_API int javm_cache_cnode_set(javm_cache *cache, javm_ref ref, uint32_t slot, const javm_key *target);
/* Edits a working Instance's overlay at page-aligned start (data NULL removes it): the Data
 * must be present (JAVM_ERR_NOT_FOUND), a Data (_WRONG_KIND) of size >= 1 whose extent fits
 * between its neighbours and below 2^32 (_NON_CANONICAL). +1 on the new Data, then the old
 * one is released. */
JAVM_API int javm_cache_instance_set_overlay(javm_cache *cache, javm_ref ref, uint32_t start,
                                    const javm_hash *data);
/* Mutable access to a working entry (JAVM_ERR_NOT_FOUND). Only non-edge fields may be written
 * (Data bytes and pages, Instance regs, pc, gas_remaining, mem_size); edges change only via
 * javm_cache_cnode_set and javm_cache_instance_set_overlay. Lent until the next mutating call.
 * Inside a journal the entry is first copied so that an abort restores it (JAVM_ERR_ALLOC). */
JAVM_API int javm_cache_working(javm_cache *cache, javm_ref ref, javm_cap **out);
/* Settles a key (§5.5) and writes the resulting hash. A HASH comes back unchanged. For a REF,
 * every REF reachable through CNode targets and Instance roots is settled in post-order;
 * non-Instance entries graduate into the blob tier (with dedup) and are forwarded; a working
 * Instance stays and its snapshot blob is put, the caller getting one new hold on it.
 * JAVM_ERR_CYCLE (nothing rewritten), _NOT_FOUND, _NON_CANONICAL, _ALLOC, ... */
JAVM_API int javm_cache_settle(javm_cache *cache, const javm_key *key, javm_hash *out);
/* Drops every clean resident blob (committed and unchanged since): it is reloaded from the
 * store, with its stored refcount, on its next use. For stores other processes commit to
 * (LMDB): call it right after a transaction begins so that refcounts are read through it
 * (caps.md §5.7). Between operations only; lent cap pointers become invalid. */
JAVM_API void javm_cache_evict_clean(javm_cache *cache);
/* The hash a graduated ref was forwarded to (JAVM_ERR_NOT_FOUND). */
JAVM_API int javm_cache_forward(javm_cache *cache, javm_ref ref, javm_hash *out);

/* Resident live blobs and working entries. */
JAVM_API size_t javm_cache_blob_count(javm_cache *cache);
JAVM_API size_t javm_cache_working_count(javm_cache *cache);
/* Visits every live blob (resident and stored) in ascending hash order with its refcount.
 * A non-zero cb result stops and is returned. A stored record that does not decode is
 * skipped and the walk ends with JAVM_ERR_STORE_CORRUPT (javm_store_errmsg names the first
 * such key) after visiting all the others. */
JAVM_API int javm_cache_iter_blobs(javm_cache *cache,
                          int (*cb)(void *arg, const javm_hash *h, const javm_cap *cap,
                                    uint32_t refcount),
                          void *arg);
/* The hash named by the last JAVM_ERR_TARGET_MISSING of this cache (JAVM_ERR_NOT_FOUND if none). */
JAVM_API int javm_cache_last_missing(javm_cache *cache, javm_hash *out);

/* ---- names (§5.7) ---------------------------------------------------------------------- */

/* Points a name (1..255 bytes, else JAVM_ERR_INVALID_ARG) at a present Instance
 * (JAVM_ERR_NOT_FOUND, _WRONG_KIND): +1 on it, then the old value is released. h NULL
 * removes the name (JAVM_ERR_NOT_FOUND if it was not set). */
JAVM_API int javm_name_set(javm_cache *cache, const uint8_t *name, size_t len, const javm_hash *h);
JAVM_API int javm_name_get(javm_cache *cache, const uint8_t *name, size_t len, javm_hash *out);

/* ---- persistence, journals, gc (§5.6, §5.7) -------------------------------------------- */

/* Persists everything not yet committed (new blobs, refcounts, queued deletions, names),
 * ka->persist (ka may be NULL) and generation + 1, in one store transaction. JAVM_ERR_BUSY with
 * an open journal, JAVM_ERR_UNSETTLED with working entries, store errors (memory stays dirty
 * and the commit can be retried). */
JAVM_API int javm_commit(javm_cache *cache, javm_ka *ka);

/* Opens the store transaction and the per-invocation journal (and ka->begin if ka is given).
 * JAVM_ERR_BUSY if a journal is already open. */
JAVM_API int javm_journal_begin(javm_cache *cache, javm_ka *ka);
/* Writes everything uncommitted through the transaction with ka->persist and generation + 1,
 * commits and closes the journal. On a store failure the journal is aborted as by
 * javm_journal_abort and JAVM_ERR_STORE (or a detail) is returned. */
JAVM_API int javm_journal_commit(javm_cache *cache, javm_ka *ka);
/* Undoes every cache change since begin (entries, refcounts, names, working tier), calls
 * ka->rollback, aborts the transaction, closes the journal. No-op without a journal. */
JAVM_API void javm_journal_abort(javm_cache *cache, javm_ka *ka);
/* Pause: aborts the store transaction, keeps the journal open. */
JAVM_API int javm_journal_suspend(javm_cache *cache);
/* Resume: begins a new transaction and checks that the store's generation is the one seen at
 * begin (JAVM_ERR_CONFLICT otherwise: the caller then aborts the journal). */
JAVM_API int javm_journal_resume(javm_cache *cache);
JAVM_API bool javm_journal_is_open(const javm_cache *cache);
/* The store's generation as last read or written by this cache. */
JAVM_API uint64_t javm_cache_generation(const javm_cache *cache);

/* Mark and sweep from the roots: embedder roots[0..n), every name and every kernel-assist file
 * record (ka->file_iter; with ka NULL, the store's files table). Deletes every unreachable blob (resident and
 * stored), sets each survivor's refcount to its holders (edges from survivors, file records,
 * names, root occurrences), clears the forwarding map and commits. Requires no open journal
 * and an empty working tier (JAVM_ERR_BUSY). `vm` is not read here: accounted call-stack
 * entries exist only while a journal is open, so the journal check covers them. */
JAVM_API int javm_gc(struct javm_vm *vm, javm_cache *cache, javm_ka *ka, const javm_hash *roots,
            size_t n_roots);

/* ---- image files and cap import (§11.2) ------------------------------------------------ */

/* Writes the JIMG file of a present Image (JAVM_ERR_NOT_FOUND, _WRONG_KIND): the caps its
 * pinned and initial lists reach, in depth-first post-order, then its body. *out: javm_free. */
JAVM_API int javm_image_save(javm_cache *cache, const javm_hash *image, uint8_t **out, size_t *len);
/* Decodes a whole JIMG file (at most JAVM_MAX_IMAGE_SIZE bytes, else JAVM_ERR_LIMIT at offset 0
 * before anything is allocated) first, then puts the records in order and the Image; on any failure
 * every put is released (the cache is unchanged) and err names the reason, offset and, for
 * JAVM_ERR_TARGET_MISSING, the missing hash. On success the caller holds one reference, on the
 * Image, whose hash is written to *out. */
JAVM_API int javm_image_load(javm_cache *cache, const uint8_t *file, size_t len, javm_hash *out,
                    javm_decode_err *err);
/* Parses a JCAP file and puts the cap (targets must be present). Caller holds one reference. */
JAVM_API int javm_cap_import(javm_cache *cache, const uint8_t *file, size_t len, javm_hash *out,
                    javm_decode_err *err);

/* ---- yield catchers and kernel-assist helpers (§9) -------------------------------------- */

/* Puts Type{H("javm:yield-catcher" ‖ u64 LE nonce)} and registers it with the kernel assist;
 * the caller gets the put's hold. */
JAVM_API int javm_yield_catcher_new(javm_cache *cache, javm_ka *ka, javm_hash *out);
/* c registered (JAVM_ERR_NOT_FOUND), a Type in the cache (_NOT_FOUND, _WRONG_KIND), m in the
 * cache (_NOT_FOUND); then m joins c's set. No hold on m. */
JAVM_API int javm_yield_catcher_add(javm_cache *cache, javm_ka *ka, const javm_hash *c, const javm_hash *m);
/* c registered (JAVM_ERR_NOT_FOUND); then m leaves c's set. */
JAVM_API int javm_yield_catcher_remove(javm_cache *cache, javm_ka *ka, const javm_hash *c,
                              const javm_hash *m);
/* Test and embedder seeding: records file `id` -> h in an in-process kernel assist without
 * moving next_file_id, taking one hold on h in `cache` (JAVM_ERR_NOT_FOUND when absent; cache
 * NULL takes none). A record replaced at the same id has its hold released. */
JAVM_API int javm_ka_mem_register_file(javm_ka *ka, javm_cache *cache, uint64_t id, const javm_hash *h);
/* next_file_id of an in-process kernel assist. */
JAVM_API uint64_t javm_ka_mem_next_file_id(javm_ka *ka);

#endif
