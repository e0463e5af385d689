/**
 * bio-no-prune — the bio port without its CPU-hotplug callback.
 *
 * Bug: the bio cache with the `cpuhp_state_add_instance_nocalls(CPUHP_BIO_DEAD, ...)`
 * registration (and so bio_cpu_dead()) removed — which is what the iomap patch v1–v3 has: no
 * hotplug callback at all. Objects cached on a CPU that goes offline stay on its lists, unusable,
 * until it comes back. Not a crash: memory held, not corrupted.
 * Invariant: hotplug-stranding (warning level). iomap-v1 strands objects the same way; the bio
 * port, with the callback, does not (test/ports.test.ts).
 * Shortest scenario: prefill puts an object on CPU 1's free_list; CPU 1 goes offline.
 */
import type { Kernel } from '../kernel/primitives.js';
import { NULL } from '../kernel/values.js';
import { port, type Implementation, type Op } from '../interface.js';
import { bio } from '../ports/bio.js';

/** block/bio.c:bioset_init(), the BIOSET_PERCPU_CACHE part, without the cpuhp instance. */
export const bioset_init = port('bioset_init', function* (k: Kernel): Op<number> {
  yield 'bs->cache = alloc_percpu(struct bio_alloc_cache);';
  k.setGlobal('fs_bio_set.cache', k.alloc_percpu('bio_alloc_cache'));
  yield 'if (!bs->cache) goto bad;';
  if (k.global('fs_bio_set.cache') === NULL) return -12;
  return 0;
});

export const bioNoPrune: Implementation = {
  ...bio,
  name: 'bio-no-prune',
  description: 'the bio port without bio_cpu_dead(): a dead CPU\'s cached bios are stranded (as in iomap v1-v3)',
  expectedViolation: 'hotplug-stranding',
  init: bioset_init,
};
delete bioNoPrune.cpuDead;

export default bioNoPrune;
