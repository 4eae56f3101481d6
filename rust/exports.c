// SPDX-License-Identifier: GPL-2.0
/*
 * zonemm's API for other modules: the Rust functions of ffi.rs, exported.
 * Their prototypes and documentation are in include/zonemm.h.
 */

#include <linux/export.h>
#include <linux/module.h>

#include "../include/zonemm.h"

EXPORT_SYMBOL_GPL(zonemm_alloc_pages);
EXPORT_SYMBOL_GPL(zonemm_alloc_pages_bulk);
EXPORT_SYMBOL_GPL(zonemm_free_pages);
EXPORT_SYMBOL_GPL(zonemm_cache_create);
EXPORT_SYMBOL_GPL(zonemm_cache_alloc);
EXPORT_SYMBOL_GPL(zonemm_cache_free);
EXPORT_SYMBOL_GPL(zonemm_cache_destroy);
EXPORT_SYMBOL_GPL(zonemm_kmalloc);
EXPORT_SYMBOL_GPL(zonemm_kfree);
EXPORT_SYMBOL_GPL(zonemm_region_alloc);
EXPORT_SYMBOL_GPL(zonemm_region_addr);
EXPORT_SYMBOL_GPL(zonemm_region_read);
EXPORT_SYMBOL_GPL(zonemm_region_write);
EXPORT_SYMBOL_GPL(zonemm_region_map);
EXPORT_SYMBOL_GPL(zonemm_region_unmap);
EXPORT_SYMBOL_GPL(zonemm_region_free);
