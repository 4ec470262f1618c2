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

vm_tree *vm_tree_get(javm_vm *vm, javm_cache *cache, const javm_hash *base_hash)
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
        levels[i] = b->data.pages[i].state == JAVM_PAGE_EMPTY ? cap_hash_empty : b->data.pages[i].hash;
    cap_bmt_build(levels, n);
    vm->tree_builds++;
    tree_insert(vm, base_hash, n, levels, NULL);
    return tree_find(vm, base_hash);
}

void vm_tree_root(javm_vm *vm, const vm_tree *t, uint64_t *idx, javm_hash *val, size_t k,
                  javm_hash *root)
{
    vm->tree_nodes += cap_bmt_update(t->levels, t->n, idx, val, k, NULL, root);
}

void vm_tree_keep(javm_vm *vm, vm_tree *t, uint64_t *idx, javm_hash *val, size_t k,
                  const javm_hash *h)
{
    if (tree_find(vm, h))
        return;
    size_t total = (size_t)cap_bmt_total(t->n);
    javm_hash *copy = malloc(total * sizeof *copy), root;
    if (!copy)
        return;
    memcpy(copy, t->levels, total * sizeof *copy);
    vm->tree_nodes += cap_bmt_update(t->levels, t->n, idx, val, k, copy, &root);
    tree_insert(vm, h, t->n, copy, t);
}
