/* Modules: limit checks, images, dense ids, and the module-drop hook. */
#include <errno.h>
#include <string.h>

#include "pool/module.h"

#include "pool/check.h"
#include "pool/slot.h"
#include "util/error.h"
#include "util/heap.h"

/* Check `d` against the pool's limits; WPOOL_ELIMIT names the first misfit. */
static int check_desc(const wpool_t *p, const wpool_module_desc_t *d) {
  const wpool_config_t *c = &p->cfg;
  if ((d->nmemories && !d->memories) || (d->ntables && !d->tables))
    return error_set(WPOOL_EINVAL, "module: memories or tables is NULL with a nonzero count");
  if (d->nmemories > c->instance_memories)
    return error_set(WPOOL_ELIMIT, "module defines %u memories, more than instance_memories (%u)",
                     d->nmemories, c->instance_memories);
  if (d->ntables > c->instance_tables)
    return error_set(WPOOL_ELIMIT, "module defines %u tables, more than instance_tables (%u)",
                     d->ntables, c->instance_tables);
  if (d->state_size > c->instance_size)
    return error_set(WPOOL_ELIMIT,
                     "module needs %zu bytes of instance state, more than instance_size (%zu)",
                     d->state_size, c->instance_size);
  for (uint32_t i = 0; i < d->nmemories; i++) {
    const wpool_memory_desc_t *m = &d->memories[i];
    if (m->shared)
      return error_set(WPOOL_ELIMIT,
                       "memory %u: shared memories are not supported by the pooling allocator", i);
    if (m->min_pages > c->instance_memory_pages)
      return error_set(WPOOL_ELIMIT, "memory %u: minimum of %llu pages exceeds "
                       "instance_memory_pages (%llu)", i, (unsigned long long)m->min_pages,
                       (unsigned long long)c->instance_memory_pages);
    if (m->max_pages != WPOOL_NO_MAX && m->min_pages > m->max_pages)
      return error_set(WPOOL_ELIMIT, "memory %u: minimum of %llu pages exceeds its maximum of %llu",
                       i, (unsigned long long)m->min_pages, (unsigned long long)m->max_pages);
    if (m->nsegments && !m->segments)
      return error_set(WPOOL_EINVAL, "memory %u: segments is NULL with nsegments %zu", i,
                       m->nsegments);
    uint64_t min_bytes = m->min_pages * WPOOL_PAGE_SIZE;
    for (size_t k = 0; k < m->nsegments; k++) {
      const wpool_data_segment_t *s = &m->segments[k];
      if (s->len == 0) continue;
      if (!s->bytes)
        return error_set(WPOOL_EINVAL, "memory %u: data segment %zu has %zu bytes at NULL", i, k,
                         s->len);
      uint64_t end;
      if (__builtin_add_overflow(s->offset, (uint64_t)s->len, &end) || end > min_bytes)
        return error_set(WPOOL_ELIMIT,
                         "memory %u: data segment %zu [offset %llu, length %zu) ends past the "
                         "minimum size of %llu bytes (%llu pages)",
                         i, k, (unsigned long long)s->offset, s->len,
                         (unsigned long long)min_bytes, (unsigned long long)m->min_pages);
    }
  }
  for (uint32_t i = 0; i < d->ntables; i++) {
    const wpool_table_desc_t *t = &d->tables[i];
    if (t->min_elements > c->instance_table_elements)
      return error_set(WPOOL_ELIMIT,
                       "table %u: minimum of %u elements exceeds instance_table_elements (%u)", i,
                       t->min_elements, c->instance_table_elements);
    if (t->max_elements != WPOOL_NO_MAX32 && t->min_elements > t->max_elements)
      return error_set(WPOOL_ELIMIT, "table %u: minimum of %u elements exceeds its maximum of %u",
                       i, t->min_elements, t->max_elements);
  }
  return 0;
}

/* Take a module id: a recycled one, or the next fresh one (growing the
 * index's per-module table and our free-id stack, so that giving the id
 * back never allocates). */
static int take_id(wpool_t *p, uint32_t *id) {
  int err = 0;
  pthread_mutex_lock(&p->module_lock);
  if (p->nfree_ids) {
    *id = p->free_ids[--p->nfree_ids];
  } else if (p->next_id == INDEX_NONE) {
    err = error_set(WPOOL_ENOMEM, "module_new: every module id is in use");
  } else {
    uint32_t want = p->next_id + 1;
    uint32_t *ids = heap_realloc(p->free_ids, (size_t)want * sizeof(*ids));
    if (!ids || index_reserve_modules(&p->index, want) != 0) {
      if (ids) p->free_ids = ids;
      err = error_set(WPOOL_ENOMEM, "module_new: out of memory for module id %u", p->next_id);
    } else {
      p->free_ids = ids;
      *id = p->next_id++;
    }
  }
  pthread_mutex_unlock(&p->module_lock);
  return err;
}

static void destroy(wpool_module_t *m) {
  for (uint32_t i = 0; m->memories && i < m->nmemories; i++) {
    if (m->memories[i].image) image_unref(m->memories[i].image);
    keep_history_destroy(&m->memories[i].keep);
  }
  for (uint32_t i = 0; m->tables && i < m->ntables; i++) keep_history_destroy(&m->tables[i].keep);
  heap_free(m->memories);
  heap_free(m->tables);
  heap_free(m);
}

static int module_new(wpool_t *p, const wpool_module_desc_t *d, wpool_module_t **out) {
  int err = check_desc(p, d);
  if (err) return err;

  wpool_module_t *m = heap_calloc(1, sizeof(*m));
  if (!m) return error_set(WPOOL_ENOMEM, "module_new: out of memory");
  m->pool = p;
  m->state_size = d->state_size;
  m->nmemories = d->nmemories;
  m->ntables = d->ntables;
  atomic_init(&m->refs, 1);
  atomic_init(&m->released, false);
  m->memories = heap_calloc(d->nmemories ? d->nmemories : 1, sizeof(*m->memories));
  m->tables = heap_calloc(d->ntables ? d->ntables : 1, sizeof(*m->tables));
  if (!m->memories || !m->tables) {
    err = error_set(WPOOL_ENOMEM, "module_new: out of memory");
    goto fail;
  }
  for (uint32_t i = 0; i < d->nmemories; i++) {
    const wpool_memory_desc_t *md = &d->memories[i];
    mod_memory_t *mm = &m->memories[i];
    mm->min_bytes = md->min_pages * WPOOL_PAGE_SIZE;
    mm->max_pages = md->max_pages < p->cfg.instance_memory_pages ? md->max_pages
                                                                  : p->cfg.instance_memory_pages;
    int e = image_build(md, &p->mem_counters, &mm->image);
    if (e) {
      err = error_set(error_from_errno(e), "memory %u: building its image: %s", i, strerror(-e));
      goto fail;
    }
    if (p->layout.keep_memory_auto &&
        keep_history_init(&mm->keep, mm->max_pages * WPOOL_PAGE_SIZE, p->layout.page) != 0) {
      err = error_set(WPOOL_ENOMEM, "memory %u: out of memory for its keep history", i);
      goto fail;
    }
  }
  for (uint32_t i = 0; i < d->ntables; i++) {
    const wpool_table_desc_t *td = &d->tables[i];
    m->tables[i].min_elements = td->min_elements;
    m->tables[i].max_elements = td->max_elements < p->cfg.instance_table_elements
                                    ? td->max_elements
                                    : p->cfg.instance_table_elements;
    if (p->table_kept && keep_history_init(&m->tables[i].keep, p->layout.table_slot_size,
                                           p->layout.page) != 0) {
      err = error_set(WPOOL_ENOMEM, "table %u: out of memory for its keep history", i);
      goto fail;
    }
  }
  m->serial = atomic_fetch_add(&p->next_serial, 1) + 1;
  err = take_id(p, &m->id);
  if (err) goto fail;

  pthread_mutex_lock(&p->module_lock);
  m->next = p->modules;
  if (p->modules) p->modules->prev = m;
  p->modules = m;
  pthread_mutex_unlock(&p->module_lock);
  atomic_fetch_add(&p->live_modules, 1);
  *out = m;
  return 0;
fail:
  destroy(m);
  return err;
}

void module_drain(wpool_module_t *m) {
  wpool_t *p = m->pool;
  uint32_t slot;
  /* One slot at a time, so the index lock is never held across the
   * mapping changes. */
  while ((slot = index_clear(&p->index, m->id)) != INDEX_NONE) {
    slot_wait_trim(&p->instances[slot]);
    slot_release(p, slot);
    index_free_unaffine(&p->index, slot);
    atomic_fetch_add(&p->slots_drained, 1);
  }
}

void module_unref(wpool_module_t *m) {
  if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1) return;
  wpool_t *p = m->pool;
  /* The last reference: an instance freed while the release was draining
   * may have left its slot affine to us; drain once more before the id is
   * given to another module. */
  module_drain(m);
  pthread_mutex_lock(&p->module_lock);
  if (m->prev) m->prev->next = m->next;
  else p->modules = m->next;
  if (m->next) m->next->prev = m->prev;
  p->free_ids[p->nfree_ids++] = m->id; /* capacity reserved in take_id() */
  pthread_mutex_unlock(&p->module_lock);
  destroy(m);
}

WPOOL_EXPORT int wpool_module_new(wpool_t *p, const wpool_module_desc_t *d, wpool_module_t **out) {
  if (!p || !d || !out) return error_set(WPOOL_EINVAL, "module_new: NULL argument");
  *out = NULL;
  check_enter(p);
  int err = module_new(p, d, out);
  check_leave(p);
  return err;
}

WPOOL_EXPORT void wpool_module_release(wpool_module_t *m) {
  if (!m) return;
  wpool_t *p = m->pool;
  check_enter(p);
  if (atomic_exchange(&m->released, true)) {
    /* Released already: the handle's reference is gone, and the record
     * may be too. */
    check_leave(p);
    api_misuse("wpool_module_release: module %u released twice", m->id);
    return;
  }
  atomic_fetch_sub(&p->live_modules, 1);
  module_drain(m);
  module_unref(m);
  check_leave(p);
}
