/**
 * Every implementation the CLI knows by name: the ports, then the known-bad variants.
 */
import type { Implementation } from './interface.js';
import { iomapV1 } from './ports/iomap-v1.js';
import { iomapV1Kmemleak } from './ports/iomap-v1-kmemleak.js';
import { bio } from './ports/bio.js';
import { bioCommon, iomapCommon } from './ports/common.js';
import { slab } from './ports/slab.js';
import { sheaves } from './ports/sheaves.js';
import { allocNoNrDec } from './variants/alloc-no-nr-dec.js';
import { bitfieldCounters } from './variants/bitfield-counters.js';
import { bioNoPrune } from './variants/bio-no-prune.js';
import { capCheckSplitSection } from './variants/cap-check-split-section.js';
import { capIgnoresNrIrq } from './variants/cap-ignores-nr-irq.js';
import { errorPathDoubleFree } from './variants/error-path-double-free.js';
import { flatThresholdB1 } from './variants/flat-threshold-b1.js';
import { hardirqPutAlwaysFrees } from './variants/hardirq-put-always-frees.js';
import { hardirqTaskList } from './variants/hardirq-task-list.js';
import { initErrorAfterSuccess } from './variants/init-error-after-success.js';
import { kmallocUnderGetCpu } from './variants/kmalloc-under-get-cpu.js';
import { kmallocUnchecked } from './variants/kmalloc-unchecked.js';
import { kmemleakFreeAfterPutCpu } from './variants/kmemleak-free-after-put-cpu.js';
import { missNoPutCpu } from './variants/miss-no-put-cpu.js';
import { putFreeFallthrough } from './variants/put-free-fallthrough.js';
import { softirqTaskList } from './variants/softirq-task-list.js';
import { spliceKeepsNrIrq } from './variants/splice-keeps-nr-irq.js';
import { spliceNoIrqsave } from './variants/splice-no-irqsave.js';
import { spliceNonempty } from './variants/splice-nonempty.js';
import { taskPutIrqList } from './variants/task-put-irq-list.js';
import { thisCpuPtrPreemptible } from './variants/this-cpu-ptr-preemptible.js';
import { sheavesHardirqIgnoresTrylock } from './variants/sheaves-hardirq-ignores-trylock.js';
import { plainNrIrqRead } from './variants/plain-nr-irq-read.js';

/** Implementations that must conform. */
export const PORTS: readonly Implementation[] = [iomapV1, bio, iomapCommon, bioCommon, slab, sheaves, iomapV1Kmemleak];

/** Known-bad variants: each names the invariant it must break (expectedViolation). */
export const VARIANTS: readonly Implementation[] = [
  spliceNoIrqsave,
  spliceNonempty,
  allocNoNrDec,
  softirqTaskList,
  hardirqTaskList,
  taskPutIrqList,
  spliceKeepsNrIrq,
  flatThresholdB1,
  kmallocUnderGetCpu,
  kmallocUnchecked,
  missNoPutCpu,
  thisCpuPtrPreemptible,
  putFreeFallthrough,
  capCheckSplitSection,
  capIgnoresNrIrq,
  hardirqPutAlwaysFrees,
  initErrorAfterSuccess,
  errorPathDoubleFree,
  bioNoPrune,
  kmemleakFreeAfterPutCpu,
  bitfieldCounters,
  sheavesHardirqIgnoresTrylock,
  plainNrIrqRead,
];

export const ALL: readonly Implementation[] = [...PORTS, ...VARIANTS];

export function findImpl(name: string): Implementation | undefined {
  return ALL.find((i) => i.name === name);
}
