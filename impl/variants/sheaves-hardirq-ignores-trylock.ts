/**
 * sheaves-hardirq-ignores-trylock — a hardirq free writes the sheaf although local_trylock() failed.
 *
 * Bug: free_to_pcs() goes on when local_trylock() fails in hardirq context, on the reasoning "irqs
 * are off in a hardirq, so nothing else runs on this CPU until it returns". But the lock is a
 * local_trylock_t, which on !PREEMPT_RT disables preemption and not irqs: a failed trylock in a
 * hardirq means the hardirq landed on the holder, in the middle of its update of the same sheaf.
 * The port returns false and the object goes to the slab (do_slab_free()). Here the hardirq pushes
 * its object between the holder's `object = pcs->main->objects[pcs->main->size - 1];` and
 * `pcs->main->size--;`: the decrement then drops the hardirq's object (lost to the sheaf: a leak,
 * poisoned, which KASAN does not report) and leaves the object just handed out inside the sheaf,
 * so the next allocation hands it out a second time.
 * Invariant: object-safety (the task holds one object twice).
 * Shortest scenario: one CPU, one object in the main sheaf, a task allocates it and a hardirq
 * completion frees another between the read of the top slot and the decrement; the task's next
 * allocation gets the first object again. explorerOnly: the hardirq must land on that one boundary.
 */
import type { Kernel } from '../kernel/primitives.js';
import type { Value } from '../kernel/values.js';
import { port, type Implementation, type Op } from '../interface.js';
import { __pcs_replace_full_main, objectAt, sheavesWith } from '../ports/sheaves.js';

/** mm/slub.c:free_to_pcs() that ignores a failed trylock in hardirq context. */
export const free_to_pcs = port('free_to_pcs', function* (k: Kernel, s: Value, object: Value): Op<boolean> {
  let pcs: Value;

  yield 'locked = local_trylock(&s->cpu_sheaves->lock);';
  const locked = k.local_trylock(k.load(s, 'cpu_sheaves'), 'lock');
  yield 'if (!locked && !in_hardirq()) return false;';
  if (!locked && !k.in_hardirq()) return false;

  yield 'pcs = this_cpu_ptr(s->cpu_sheaves);';
  pcs = k.this_cpu_ptr(k.load(s, 'cpu_sheaves'));

  yield 'if (unlikely(pcs->main->size == s->sheaf_capacity)) {';
  if (k.load(k.load(pcs, 'main'), 'size') === k.load(s, 'sheaf_capacity')) {
    // if (!locked) return false: a local test, folded.
    if (!locked) return false;
    pcs = yield* __pcs_replace_full_main(k, s, pcs);
    if (!pcs) return false;
  }

  yield 'pcs->main->objects[pcs->main->size++] = object;';
  {
    const main = k.load(pcs, 'main');
    const size = k.load(main, 'size');
    k.storeAt(objectAt(main, size), object, 'pcs->main->objects[pcs->main->size++]');
    k.store(main, 'size', size + 1);
  }

  yield 'if (locked) local_unlock(&s->cpu_sheaves->lock);';
  if (locked) k.local_unlock(k.load(s, 'cpu_sheaves'), 'lock');
  return true;
});

export const sheavesHardirqIgnoresTrylock: Implementation = {
  ...sheavesWith({
    name: 'sheaves-hardirq-ignores-trylock',
    description: 'the sheaves port whose free_to_pcs() writes the main sheaf in a hardirq that found the local lock taken (landed on the holder)',
    freeToPcs: free_to_pcs,
  }),
  expectedViolation: 'object-safety',
  explorerOnly: 'the hardirq must land between two statements of alloc_from_pcs() (the read of the top slot and the decrement); sequential runs never find the lock taken',
};

export default sheavesHardirqIgnoresTrylock;
