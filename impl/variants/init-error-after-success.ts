/**
 * init-error-after-success — the initcall's NULL test is inverted.
 *
 * Bug: iomap_dio_init() tests `if (dio_cache) return -ENOMEM;`: it returns an error exactly when
 * alloc_percpu() succeeded, and 0 when it failed. At boot the kernel logs
 * "initcall iomap_dio_init ... returned -12" and carries on with the cache it did set up; as a
 * module it would not load. On the failure path it would claim success with no cache.
 * Invariant: init-result.
 * Shortest scenario: boot itself (any scope): the initcall returns -ENOMEM although nothing failed.
 */
import type { Kernel } from '../kernel/primitives.js';
import { NULL } from '../kernel/values.js';
import { port, type Implementation, type Op } from '../interface.js';
import { iomapV1 } from '../ports/iomap-v1.js';

/** fs/iomap/direct-io.c:iomap_dio_init() of iomap-v1.ts with the test inverted. */
export const iomap_dio_init = port('iomap_dio_init', function* (k: Kernel): Op<number> {
  yield 'dio_cache = alloc_percpu(struct dio_alloc_cache);';
  k.setGlobal('dio_cache', k.alloc_percpu('dio_alloc_cache'));
  yield 'if (dio_cache) return -ENOMEM;';
  if (k.global('dio_cache') !== NULL) return -12;
  return 0;
});

export const initErrorAfterSuccess: Implementation = {
  ...iomapV1,
  name: 'init-error-after-success',
  description: 'iomap-v1 whose initcall returns -ENOMEM when alloc_percpu() succeeded (the NULL test inverted)',
  expectedViolation: 'init-result',
  init: iomap_dio_init,
};

export default initErrorAfterSuccess;
