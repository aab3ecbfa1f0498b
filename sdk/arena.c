/* Step arena: bump allocation in blocks; reset rewinds, and once a step has
 * needed more than one block the next reset replaces them all by one block
 * of the high-water size, so a steady loop uses one block and no new pages. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 64
#define ARENA_MIN_BLOCK (4u << 20)

static lt_arena_block *block_new(size_t size)
{
    size = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1); /* aligned_alloc needs a multiple */
    lt_arena_block *b = malloc(sizeof *b);
    if (!b) return NULL;
    b->mem = aligned_alloc(ARENA_ALIGN, size);
    if (!b->mem) {
        free(b);
        return NULL;
    }
    b->size = size;
    b->used = 0;
    b->next = NULL;
    return b;
}

static void block_free_list(lt_arena_block *b)
{
    while (b) {
        lt_arena_block *next = b->next;
        free(b->mem);
        free(b);
        b = next;
    }
}

void *lt__arena_alloc(lt_arena *a, size_t bytes)
{
    bytes = (bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (bytes == 0) bytes = ARENA_ALIGN;
    if (!a->head || a->head->size - a->head->used < bytes) {
        size_t size = a->capacity > ARENA_MIN_BLOCK ? a->capacity : ARENA_MIN_BLOCK;
        if (size < bytes) size = bytes;
        lt_arena_block *b = block_new(size);
        if (!b) return NULL;
        if (a->head) {
            a->head->next = a->full;
            a->full = a->head;
        }
        a->head = b;
        a->capacity += b->size;
        a->n_grows++;
    }
    void *p = a->head->mem + a->head->used;
    a->head->used += bytes;
    a->used += bytes;
    if (a->used > a->high_water) a->high_water = a->used;
    return p;
}

void lt__arena_reset(lt_arena *a)
{
    if (a->full) {
        /* The step overflowed the block: re-lay as one block of the high-water size. */
        size_t size = a->high_water + a->high_water / 8;
        block_free_list(a->full);
        block_free_list(a->head);
        a->full = NULL;
        a->head = block_new(size);
        a->capacity = a->head ? a->head->size : 0;
    } else if (a->head) {
        a->head->used = 0;
    }
    a->used = 0;
}

void lt__arena_free(lt_arena *a)
{
    block_free_list(a->full);
    block_free_list(a->head);
    memset(a, 0, sizeof *a);
}
