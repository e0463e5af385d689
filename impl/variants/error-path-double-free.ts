/**
 * error-path-double-free — __iomap_dio_rw()'s error path frees the dio after putting it back.
 *
 * Bug: the patch turned `out_free_dio: kfree(dio);` into `dio_put_percpu_cache(dio);`, and this
 * edit keeps a `kfree(dio)` behind it on the error path (`if (ret) { kfree(dio); return
 * ERR_PTR(ret); }`): a dio the put cached is freed while it sits on free_list, and one the put freed
 * (over the cap) is freed twice. The normal path and iomap_dio_complete() are untouched, so only a
 * search that takes the caller's error branch (a nondeterministic branch: `ret` is not computed by
 * the model) sees it. test/fixtures/c/error-path-double-free.patch is the same edit in C.
 * explorerOnly: the statechart paths and fast-check run every statement the plain way, so they
 * never take the branch; the explorer offers it at every such statement.
 * Invariant: object-safety (a freed object still on free_list).
 * Shortest scenario: one alloc whose iomap_iter() ends with an error: the put caches the dio, the
 * kfree() frees it on the list.
 */
import type { Kernel } from '../kernel/primitives.js';
import { NULL, type Value } from '../kernel/values.js';
import type { Op } from '../interface.js';
import { dio_put_percpu_cache } from '../ports/iomap-v1.js';
import { v1Variant } from './v1-parts.js';

/** The `out_free_dio:` label of __iomap_dio_rw() with the old kfree() left behind the put. */
function* out_free_dio(k: Kernel, dio: Value): Op<Value> {
  yield* dio_put_percpu_cache(k, dio);
  yield 'kfree(dio);';
  k.kfree(dio);
  return NULL;
}

export const errorPathDoubleFree = v1Variant(
  {
    name: 'error-path-double-free',
    description: "iomap-v1 whose __iomap_dio_rw() error path kfree()s the dio after dio_put_percpu_cache() (freed on free_list, or twice)",
    expectedViolation: 'object-safety',
    explorerOnly: "needs the caller's error branch (`if (ret) goto out_free_dio;`), a nondeterministic branch that only the explorer takes; the statechart paths and fast-check run the plain way",
  },
  { outFreeDio: out_free_dio },
);

export default errorPathDoubleFree;
