// Entry point of a worker thread (parallel.ts, parallel-dfs.ts): the checker is TypeScript run
// through tsx, and a worker thread starts without the loader of the thread that made it.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.strategy === 'dfs' ? './worker-dfs.ts' : './worker.ts');
