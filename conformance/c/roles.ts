/**
 * Roles and profile, recognised from the shape of the code: the struct with a task list, an irq
 * list and their counters; the `__percpu` static that holds it; the function that pops from
 * free_list (alloc), the one that pushes on it (put), the one that moves free_list_irq onto it
 * (splice), the hotplug prune; then the profile facts: the cap comparison against the cache's
 * named MAX, where a miss allocates, whether dead CPUs are pruned.
 */
import type { CacheBinding } from '../../impl/interface.js';
import { UsageError } from '../errors.js';
import { walk, type N } from './ast.js';
import type { CFunction, CType, Program } from './extract.js';

export interface Binding {
  cache?: Partial<CacheBinding>;
  roles?: Partial<Record<RoleName, string>>;
  objectType?: string;
  /** Extra C definitions (functions, structs, macros) the patch does not contain. */
  functions?: Record<string, string>;
  /** A name in the code -> the primitive or patch function it stands for. */
  aliases?: Record<string, string>;
}

export type RoleName = 'alloc' | 'put' | 'splice' | 'create' | 'prune';

export interface Roles {
  binding: CacheBinding;
  cacheStruct: string;
  fns: Partial<Record<RoleName, string>>;
  capCompare: '>' | '>=';
  missAllocation: 'caller' | 'helper';
  hotplugPrune: boolean;
  /** Where each fact was read, for the report. */
  evidence: string[];
}

const isField = (n: N | undefined, name: string) => !!n && n.t === 'field_expression' && n.f.field?.text === name;
const mentions = (n: N, field: string) => {
  let hit = false;
  walk(n, (x) => {
    if (isField(x, field)) hit = true;
  });
  return hit;
};

/** Whether `fn` reads `x->field` anywhere but as the target of an assignment. */
function readsField(fn: CFunction, field: string): boolean {
  let hit = false;
  walk(fn.body, (x) => {
    if (x.t === 'assignment_expression') {
      if (x.f.right && mentions(x.f.right, field)) hit = true;
    } else if ((x.t === 'init_declarator' || x.t === 'return_statement' || x.t === 'if_statement') && mentions(x, field)) hit = true;
  });
  return hit;
}

function assignments(fn: CFunction): N[] {
  const out: N[] = [];
  walk(fn.body, (x) => {
    if (x.t === 'assignment_expression' && x.op === '=') out.push(x);
  });
  return out;
}

/** Functions reachable from `name` through calls (itself included). */
export function reachable(p: Program, name: string, aliases: Record<string, string> = {}): CFunction[] {
  const out: CFunction[] = [];
  const todo = [name];
  const seen = new Set<string>();
  while (todo.length) {
    const n = todo.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    const f = p.functions.get(aliases[n] ?? n);
    if (!f) continue;
    out.push(f);
    walk(f.body, (x) => {
      if (x.t === 'call_expression' && x.f.function) todo.push(x.f.function.text);
      if (x.t === 'identifier' && p.functions.has(x.text)) todo.push(x.text);
    });
  }
  return out;
}

export function inferRoles(p: Program, b: Binding, flags: Partial<Record<RoleName, string>>): Roles {
  const evidence: string[] = [];
  // 1. The cache struct: two list heads and two counters, the irq ones named so.
  const given = b.cache ?? {};
  let cacheStruct = '';
  let freeList = given.freeList ?? '';
  let freeListIrq = given.freeListIrq ?? '';
  let nr = given.nr ?? '';
  let nrIrq = given.nrIrq ?? '';
  for (const l of p.structs.values()) {
    const ptrs = [...l.fields].filter(([, f]) => f.type.k === 'ptr').map(([n]) => n);
    const ints = [...l.fields].filter(([, f]) => f.type.k === 'int').map(([n]) => n);
    if (freeList && l.fields.has(freeList)) {
      cacheStruct = l.name;
      break;
    }
    const fl = ptrs.find((n) => /free|list|head/.test(n) && !/irq/.test(n));
    const fli = ptrs.find((n) => /irq/.test(n));
    const c = ints.find((n) => /^nr$|^nr_|count|^n$/.test(n) && !/irq/.test(n));
    const ci = ints.find((n) => /irq/.test(n));
    if (fl && fli && c && ci) {
      cacheStruct = l.name;
      freeList ||= fl;
      freeListIrq ||= fli;
      nr ||= c;
      nrIrq ||= ci;
      break;
    }
  }
  if (!cacheStruct)
    throw new UsageError(
      'no per-CPU cache found: no struct with a task list, an irq list and their counters (like free_list, free_list_irq, nr, nr_irq); name the fields with --binding',
    );
  evidence.push(`struct ${cacheStruct} (${p.structs.get(cacheStruct)!.at}): lists ${freeList}/${freeListIrq}, counters ${nr}/${nrIrq}`);

  // 2. The __percpu static holding it.
  let percpu = given.percpu ?? '';
  let percpuField = given.percpuField;
  const pointsTo = (t: CType, name: string) => t.k === 'ptr' && t.to.k === 'struct' && t.to.name === name;
  if (!percpu) {
    const cands = [...p.statics.values()].filter((s) => s.percpu && s.type.k === 'ptr');
    percpu = (cands.find((s) => pointsTo(s.type, cacheStruct)) ?? cands[0])?.name ?? '';
  }
  const givenStatic = percpu ? p.statics.get(percpu) : undefined;
  if (percpuField === undefined && (!percpu || (givenStatic && !givenStatic.percpu && !pointsTo(givenStatic.type, cacheStruct)))) {
    // v2/v3 keep the __percpu pointer in a kmalloc'd descriptor (`dio_pcpu_cache_list->cache`):
    // a static points to a struct that has a pointer-to-cache field.
    for (const s of givenStatic ? [givenStatic] : p.statics.values()) {
      // The descriptor is kmalloc'd (a static pointer to it) or is the static itself.
      const to = s.type.k === 'ptr' && s.type.to.k === 'struct' ? p.structs.get(s.type.to.name) : s.type.k === 'struct' ? p.structs.get(s.type.name) : undefined;
      const field = to && [...to.fields].find(([, f]) => pointsTo(f.type, cacheStruct))?.[0];
      if (to && field) {
        percpu = s.name;
        percpuField = field;
        evidence.push(`the __percpu pointer is ${s.name}${s.type.k === 'struct' ? '.' : '->'}${field} (a descriptor, struct ${to.name} at ${to.at})`);
        break;
      }
    }
  }
  if (!percpu && percpuField === undefined) {
    // A patch to block/bio.c shows no instance: the code reaches the cache through a parameter
    // (`per_cpu_ptr(bs->cache, get_cpu())`, bs a struct bio_set *; fs_bio_set is elsewhere). The
    // checker makes the one instance the workload uses.
    const via = descriptorParam(p, cacheStruct, pointsTo);
    if (via) {
      percpu = `__${via.struct}`;
      percpuField = via.field;
      p.statics.set(percpu, { name: percpu, type: { k: 'struct', name: via.struct }, percpu: false, init: null, at: '(made by the checker)' });
      evidence.push(
        `the __percpu pointer is the ${via.field} field of the struct ${via.struct} ${via.fn}() is given (${via.text}); the ${p.post.kind === 'c' ? 'file' : 'patch'} shows no instance of it: the checker makes one, ${percpu}`,
      );
    }
  }
  if (!percpu || !p.statics.has(percpu)) throw new UsageError(`no __percpu static pointer to struct ${cacheStruct} found; name it with --binding ('cache.percpu')`);

  // 3. Functions by what they do to the lists.
  const fns: Partial<Record<RoleName, string>> = { ...(b.roles ?? {}), ...flags };
  let next = given.next ?? '';
  // The link the alloc advances through and the one the put links through: one field in a
  // correct cache, and a finding to show when they differ.
  let popNext = '';
  let pushNext = '';
  // A prune (bio's __bio_alloc_cache_prune) pops too, and its helper takes an int: the role
  // goes to the function whose name says what it does, before source order decides.
  const teardown = /prune|dead|destroy|drain|flush|shrink|offline/;
  const ordered = [...p.functions.values()].sort((a, b) => Number(teardown.test(a.name)) - Number(teardown.test(b.name)));
  const isInt = (t: CType) => t.k === 'int';
  const pruneBy = (re: RegExp) => ordered.find((f) => re.test(f.name) && f.params.length > 0 && isInt(f.params[0]!.type))?.name;
  if (!fns.prune) fns.prune = pruneBy(/cpu_dead|cpuhp|cpu_offline/) ?? [...p.functions.values()].find((f) => /prune|dead/.test(f.name) && f.params.length > 0 && f.params.every((x) => isInt(x.type)))?.name;
  if (!fns.prune) delete fns.prune;
  for (const f of ordered) {
    const as = assignments(f);
    const toList = as.filter((a) => isField(a.f.left, freeList));
    if (!fns.splice && toList.some((a) => mentions(a.f.right!, freeListIrq))) fns.splice = f.name;
    // A pop reads an element's link (`dio->dio_next`); the list heads themselves are not links
    // (a splice whose `= cache->free_list_irq` was edited to `= cache->free_list` pops nothing).
    const pop = toList.find((a) => a.f.right?.t === 'field_expression' && a.f.right.op === '->' && !isField(a.f.right, freeListIrq) && !isField(a.f.right, freeList));
    if (pop && !fns.alloc) {
      fns.alloc = f.name;
      popNext = pop.f.right!.f.field!.text;
      next ||= popNext;
    }
    const push = toList.find((a) => a.f.right?.t === 'identifier');
    if (push && !fns.put) {
      const link = as.find((a) => a.f.left?.t === 'field_expression' && a.f.right && isField(a.f.right, freeList));
      if (link) {
        fns.put = f.name;
        pushNext = link.f.left!.f.field!.text;
        next ||= pushNext;
      }
    }
    let callsPercpu = false;
    walk(f.body, (x) => {
      if (x.t === 'call_expression' && x.f.function?.text === 'alloc_percpu') callsPercpu = true;
    });
    if (callsPercpu && !fns.create) fns.create = f.name;
  }
  // A changed alloc may read the head without ever advancing it (handing one object out twice),
  // and a changed put may link the object to the head without storing it there (losing it).
  // They are still the alloc and the put: taking them lets the search say what is wrong, where
  // refusing would leave the change unchecked.
  const taken = () => new Set(Object.values(fns));
  if (!fns.alloc) {
    const t = taken();
    fns.alloc = ordered.find((f) => !t.has(f.name) && f.ret.k === 'ptr' && readsField(f, freeList))?.name;
    if (fns.alloc) evidence.push(`${fns.alloc}() returns a pointer and reads ${freeList} but never pops from it: taken as the alloc`);
    else delete fns.alloc;
  }
  if (!fns.put) {
    const t = taken();
    const linkOf = (f: CFunction) =>
      assignments(f).find((a) => a.f.left?.t === 'field_expression' && a.f.right && (isField(a.f.right, freeList) || isField(a.f.right, freeListIrq)));
    const f = ordered.find((x) => !t.has(x.name) && linkOf(x) !== undefined);
    if (f) {
      fns.put = f.name;
      next ||= linkOf(f)!.f.left!.f.field!.text;
      evidence.push(`${f.name}() links an object to a list head but never stores it there: taken as the put`);
    } else delete fns.put;
  }
  for (const r of ['alloc', 'put'] as const) {
    if (!fns[r]) throw new UsageError(`no ${r === 'alloc' ? 'alloc (a function that pops from ' + freeList + ')' : 'put (a function that pushes on ' + freeList + ')'} found; name it with --role ${r}=FUNCTION`);
    if (!p.functions.has(fns[r]!)) throw new UsageError(`--role ${r}=${fns[r]}: no such function in the patch`);
  }
  if (!next) throw new UsageError('cannot tell the link field of a list element; name it with --binding (cache.next)');
  if (popNext && pushNext && popNext !== pushNext)
    evidence.push(`${fns.alloc}() advances ${freeList} through ->${popNext} but ${fns.put}() links through ->${pushNext}: two fields, and the lists are walked through ->${next}`);
  evidence.push(`alloc ${fns.alloc}(), put ${fns.put}()${fns.splice ? `, splice ${fns.splice}()` : ''}${fns.create ? `, create ${fns.create}()` : ''}${fns.prune ? `, prune ${fns.prune}()` : ''}; link field ${next}`);

  // 4. Profile facts.
  const put = p.functions.get(fns.put!)!;
  let capCompare: '>' | '>=' | null = null;
  let maxMacro = given.maxMacro ?? '';
  const macroName = (n: N): string => (n.t === 'identifier' && p.macros.has(n.text) ? n.text : '');
  for (const f of reachable(p, put.name, b.aliases)) {
    walk(f.body, (x) => {
      if (capCompare || x.t !== 'binary_expression' || !['>', '>=', '<', '<='].includes(x.op)) return;
      const l = x.f.left!;
      const r = x.f.right!;
      if (!(mentions(l, nr) || mentions(l, nrIrq))) return;
      // `> MAX - 1` is `>= MAX` and `>= MAX + 1` is `> MAX` (the `<`, `<=` forms alike): the
      // profile follows the cap the code enforces, not the way it is spelt.
      const off = offByOne(r);
      let op = x.op;
      if (off?.d === -1 && (op === '>' || op === '<=')) op = op === '>' ? '>=' : '<';
      else if (off?.d === 1 && (op === '>=' || op === '<')) op = op === '>=' ? '>' : '<=';
      capCompare = op === '>' || op === '<=' ? '>' : '>=';
      maxMacro ||= macroName(op !== x.op ? off!.base : r);
      evidence.push(`cap test '${x.text}' (${x.at}): free when the total ${capCompare} ${op !== x.op ? `${off!.base.text} (read as '${op} ${off!.base.text}')` : 'MAX'}`);
    });
  }
  // A put that caches without looking at the counters has no cap: that is the search's to report
  // (`cap`), judged against the looser of the two caps the profiles know, not an input error.
  if (!capCompare) {
    capCompare = '>';
    evidence.push(`no cap test in ${put.name}() (no comparison of ${nr}/${nrIrq}): judged against the \`>\` cap (free when the total > MAX)`);
  }
  let thresholdMacro = given.thresholdMacro ?? '';
  for (const f of reachable(p, fns.alloc!, b.aliases))
    walk(f.body, (x) => {
      if (thresholdMacro || x.t !== 'binary_expression' || !['>=', '>'].includes(x.op) || !mentions(x.f.left!, nrIrq)) return;
      thresholdMacro = macroName(x.f.right!);
    });
  // A cap or threshold kept in a field (set at creation) comes from a macro passed to the create call.
  const named = (re: RegExp) => [...p.macros.values()].find((m) => !m.params && re.test(m.name) && /^\(?\s*\d+\s*\)?$/.test(m.text))?.name ?? '';
  maxMacro ||= named(/MAX/);
  thresholdMacro ||= named(/THRESH/);
  if (!maxMacro) throw new UsageError(`cannot tell which macro is the cache's MAX; name it with --binding (cache.maxMacro)`);
  if (!thresholdMacro) throw new UsageError(`cannot tell which macro is the splice THRESHOLD; name it with --binding (cache.thresholdMacro)`);
  let helperAllocates = false;
  for (const f of reachable(p, fns.alloc!, b.aliases))
    walk(f.body, (x) => {
      if (x.t === 'call_expression' && /^(kmalloc|kzalloc|kmem_cache_alloc|kmem_cache_zalloc|kmemdup)$/.test(x.f.function?.text ?? '')) helperAllocates = true;
    });
  const missAllocation = helperAllocates ? 'helper' : 'caller';
  evidence.push(missAllocation === 'helper' ? `${fns.alloc}() allocates on a miss itself` : `${fns.alloc}() returns NULL on a miss; the caller allocates`);
  evidence.push(fns.prune ? `hotplug prune ${fns.prune}()` : 'no hotplug prune (no cpu_dead callback)');
  return {
    binding: { percpu, ...(percpuField !== undefined ? { percpuField } : {}), freeList, freeListIrq, nr, nrIrq, next, maxMacro, thresholdMacro },
    cacheStruct,
    fns,
    capCompare: capCompare as '>' | '>=',
    missAllocation,
    hotplugPrune: !!fns.prune,
    evidence,
  };
}

/** `M - 1` or `M + 1` (in parentheses or not): M and the offset. */
function offByOne(n: N): { base: N; d: 1 | -1 } | null {
  while (n.t === 'parenthesized_expression' && n.kids.length === 1) n = n.kids[0]!;
  if (n.t !== 'binary_expression' || !['+', '-'].includes(n.op) || n.f.right?.t !== 'number_literal' || !/^1[uUlL]*$/.test(n.f.right.text)) return null;
  return { base: n.f.left!, d: n.op === '+' ? 1 : -1 };
}

/** The registered profile closest to the inferred facts (the cap comparison decides first). */
export function profileFor(r: Roles): string {
  if (r.capCompare === '>=') return 'iomap-v3';
  return r.hotplugPrune ? 'bio' : 'iomap-v1';
}

/** `per_cpu_ptr(x->F, ...)` with x a parameter pointing to a struct D whose F points to the cache struct. */
function descriptorParam(p: Program, cacheStruct: string, pointsTo: (t: CType, name: string) => boolean): { struct: string; field: string; fn: string; text: string } | null {
  for (const f of p.functions.values()) {
    let hit: { struct: string; field: string; fn: string; text: string } | null = null;
    walk(f.body, (x) => {
      if (hit || x.t !== 'call_expression' || !/^(per_cpu_ptr|this_cpu_ptr|raw_cpu_ptr|get_cpu_ptr)$/.test(x.f.function?.text ?? '')) return;
      const a = x.f.arguments?.kids[0];
      if (a?.t !== 'field_expression' || a.op !== '->' || a.f.argument?.t !== 'identifier') return;
      const param = f.params.find((q) => q.name === a.f.argument!.text);
      const t = param?.type;
      if (!t || t.k !== 'ptr' || t.to.k !== 'struct') return;
      const field = a.f.field?.text ?? '';
      const l = p.structs.get(t.to.name);
      if (l && pointsTo(l.fields.get(field)?.type ?? { k: 'void' }, cacheStruct)) hit = { struct: t.to.name, field, fn: f.name, text: x.text };
    });
    if (hit) return hit;
  }
  return null;
}
