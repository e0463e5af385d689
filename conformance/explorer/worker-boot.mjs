// Entry point of a pooled worker thread (protocol.ts's pool, for parallel.ts and parallel-dfs.ts):
// the checker is TypeScript run through tsx, and a worker thread starts without the loader of the
// thread that made it. worker.ts serves BFS and DFS searches alike (it loads worker-dfs.ts).
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
