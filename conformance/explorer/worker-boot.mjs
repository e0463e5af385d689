// Entry point of a pooled worker thread (protocol.ts's pool, for parallel.ts and parallel-dfs.ts).
// A worker thread starts without the loader of the thread that made it: in the JavaScript build
// (bin/js-build.mjs) worker.js is beside this file; in the sources it is TypeScript, run through
// tsx. worker.ts serves BFS and DFS searches alike (it loads worker-dfs.ts).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const js = new URL('./worker.js', import.meta.url);
if (existsSync(fileURLToPath(js))) await import(js.href);
else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./worker.ts');
}
