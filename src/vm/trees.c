/* SPDX-License-Identifier: MIT
 * vm/trees.c — the VM's cache of Merkle levels of Paged Data (caps.md §4.2, §6.5: "the Merkle
 * nodes above the leaves MAY be cached"). settle_post_instance snapshots a region whose pages
 * are mostly the base overlay's own (shared, same hash); the new Data's root then differs from
 * the base's only along the paths of the changed pages, so with the base's levels at hand it
 * costs O(k log n) node hashes instead of n - 1 (issue 13 item 2). A cache entry is keyed by
 * the Data's cap hash, which fixes every leaf, so it can never be stale. Design: docs/vm.md. */
#include <stdlib.h>
#include <string.h>

#include "vm/vm.h"
#include "cache/cache.h"
#include "cap/cap.h"

void vm_trees_free(javm_vm *vm)
{
    for (size_t i = 0; i < VM_TREES_MAX; i++) {
        free(vm->trees[i].levels);
        vm->trees[i].levels = NULL;
    }
}

static vm_tree *tree_find(javm_vm *vm, const javm_hash *h)
{
    for (size_t i = 0; i < VM_TREES_MAX; i++)
        if (vm->trees[i].levels && memcmp(&vm->trees[i].data, h, sizeof *h) == 0) {
            vm->trees[i].stamp = ++vm->tree_clock;
            return &vm->trees[i];
        }
    return NULL;
}

/* Takes levels (n leaves) into a free slot or the least recently used one other than keep. */
static void tree_insert(javm_vm *vm, const javm_hash *h, uint64_t n, javm_hash *levels,
                        const vm_tree *keep)
{
    vm_tree *v = NULL;
    for (size_t i = 0; i < VM_TREES_MAX; i++) {
        vm_tree *t = &vm->trees[i];
        if (t == keep)
            continue;
        if (!t->levels) {
            v = t;
            break;
        }
        if (!v || t->stamp < v->stamp)
            v = t;
    }
    free(v->levels);
    *v = (vm_tree){ *h, n, levels, ++vm->tree_clock };
}

/* The leaf a page stands for (caps.md §4.3: H("") for Empty, else the page hash). */
static void leaf_value(const javm_page *p, javm_hash *out)
{
    *out = p->state == JAVM_PAGE_EMPTY ? cap_hash_empty : p->hash;
}

/* The levels of the Paged Data base_hash: cached, or built from the Data in the cache. */
static vm_tree *base_tree(javm_vm *vm, javm_cache *cache, const javm_hash *base_hash)
{
    vm_tree *t = tree_find(vm, base_hash);
    if (t)
        return t;
    const javm_cap *b;
    if (cache_get_hash(cache, base_hash, &b) || b->kind != JAVM_KIND_DATA || !b->data.paged)
        return NULL;
    uint64_t n = b->data.n_pages;
    if (n > SIZE_MAX / sizeof(javm_hash) / 2 - 1)
        return NULL;
    javm_hash *levels = malloc((size_t)cap_bmt_total(n) * sizeof *levels);
    if (!levels)
        return NULL;
    for (uint64_t i = 0; i < n; i++)
        leaf_value(&b->data.pages[i], &levels[i]);
    cap_bmt_build(levels, n);
    vm->tree_builds++;
    tree_insert(vm, base_hash, n, levels, NULL);
    return tree_find(vm, base_hash);
}

/* The changed leaves among cand: idx/val (room for ncand each); returns how many. */
static size_t changed_leaves(const vm_tree *t, const javm_data *d, const uint64_t *cand, size_t ncand,
                             uint64_t *idx, javm_hash *val)
{
    size_t k = 0;
    for (size_t j = 0; j < ncand; j++) {
        javm_hash v;
        leaf_value(&d->pages[cand[j]], &v);
        if (memcmp(&v, &t->levels[cand[j]], sizeof v) != 0) {
            idx[k] = cand[j];
            val[k++] = v;
        }
    }
    return k;
}

int vm_data_hash(javm_vm *vm, javm_cache *cache, const javm_hash *base_hash, const javm_cap *d,
                 const uint64_t *cand, size_t ncand, javm_hash *out)
{
    vm_tree *t = NULL;
    if (base_hash && d->data.paged)
        t = base_tree(vm, cache, base_hash);
    if (!t || t->n != d->data.n_pages) {
        vm->tree_misses++;
        return javm_cap_hash(d, out);
    }
    uint64_t *idx = malloc((ncand ? ncand : 1) * sizeof *idx);
    javm_hash *val = malloc((ncand ? ncand : 1) * sizeof *val);
    if (!idx || !val) {
        free(idx);
        free(val);
        return JAVM_ERR_ALLOC;
    }
    javm_hash root;
    size_t k = changed_leaves(t, &d->data, cand, ncand, idx, val);
    vm->tree_nodes += cap_bmt_update(t->levels, t->n, idx, val, k, NULL, &root);
    cap_data_hash_of_root(d->data.size, &root, out);
    /* Keep the result's levels for the invocation that starts from it (a copy of the base's
     * with the changed paths: n/64 of the Data's size). Best effort: no memory, no cache. */
    if (k && !tree_find(vm, out)) {
        size_t total = (size_t)cap_bmt_total(t->n);
        javm_hash *copy = malloc(total * sizeof *copy);
        if (copy) {
            memcpy(copy, t->levels, total * sizeof *copy);
            k = changed_leaves(t, &d->data, cand, ncand, idx, val);
            vm->tree_nodes += cap_bmt_update(t->levels, t->n, idx, val, k, copy, &root);
            tree_insert(vm, out, t->n, copy, t);
        }
    }
    free(idx);
    free(val);
    return JAVM_OK;
}
