import { explore } from '../conformance/explorer/explore.js';
import { SCOPES } from '../conformance/scopes.js';
import { iomapV1 } from '../impl/ports/iomap-v1.js';
for (const k of (process.argv[2] ?? '5').split(',').map(Number)) {
  const sym = process.argv[3] !== 'off';
  const r = explore({ impl: iomapV1, scope: { ...SCOPES['spin-ref']!, ops: k }, symmetry: sym });
  console.log(`K=${k} sym=${sym} states=${r.stats.states} trans=${r.stats.transitions} s=${r.stats.seconds.toFixed(2)} sps=${r.stats.statesPerSecond.toFixed(0)} bps=${r.stats.bytesPerState.toFixed(1)} verdict=${r.verdict} max=${r.extremes.maxCached}`);
}
