import { check } from '/work/main/conformance/c/run.ts';
import { readdirSync } from 'node:fs';
const dir = '/work/main/test/fixtures/c/';
const files = process.argv.slice(2).length ? process.argv.slice(2) : readdirSync(dir).filter(f => f.endsWith('.patch') || f.endsWith('.c') || f.endsWith('.diff'));
for (const f of files) {
  const t0 = Date.now();
  try {
    const r = await check({ file: dir + f });
    console.log(f, r.verdict, r.violations.map(v => v.id + ' [' + v.scope.name + ', ' + v.steps.length + ' steps]: ' + v.message).join(' ; '), 'states', r.stats.states, 'time', ((Date.now()-t0)/1000).toFixed(1), 's', 'maxCached', r.extremes.maxCached, 'profile', r.profile.name);
  } catch (e) { console.log(f, 'ERROR', (e as Error).message); }
}
