// SPDX-License-Identifier: GPL-2.0
/*
 * C shims for compat.rs on kernels before 7.3, whose kernel crate has no
 * SpinLockIrq and no Srcu: static inlines and macros of <linux/spinlock.h>
 * and <linux/srcu.h>. Kbuild builds this file on those kernels only.
 */

#include <linux/spinlock.h>
#include <linux/srcu.h>

unsigned long zonemm_compat_spin_lock_irqsave(spinlock_t *lock);
bool zonemm_compat_spin_trylock_irqsave(spinlock_t *lock, unsigned long *flags);
void zonemm_compat_spin_unlock_irqrestore(spinlock_t *lock, unsigned long flags);
int zonemm_compat_init_srcu(struct srcu_struct *ssp, const char *name,
			    struct lock_class_key *key);
int zonemm_compat_srcu_read_lock(struct srcu_struct *ssp);
void zonemm_compat_srcu_read_unlock(struct srcu_struct *ssp, int idx);

unsigned long zonemm_compat_spin_lock_irqsave(spinlock_t *lock)
{
	unsigned long flags;

	spin_lock_irqsave(lock, flags);
	return flags;
}

bool zonemm_compat_spin_trylock_irqsave(spinlock_t *lock, unsigned long *flags)
{
	return spin_trylock_irqsave(lock, *flags);
}

void zonemm_compat_spin_unlock_irqrestore(spinlock_t *lock, unsigned long flags)
{
	spin_unlock_irqrestore(lock, flags);
}

int zonemm_compat_init_srcu(struct srcu_struct *ssp, const char *name,
			    struct lock_class_key *key)
{
#ifdef CONFIG_DEBUG_LOCK_ALLOC
	return __init_srcu_struct(ssp, name, key);
#else
	return init_srcu_struct(ssp);
#endif
}

int zonemm_compat_srcu_read_lock(struct srcu_struct *ssp)
{
	return srcu_read_lock(ssp);
}

void zonemm_compat_srcu_read_unlock(struct srcu_struct *ssp, int idx)
{
	srcu_read_unlock(ssp, idx);
}
