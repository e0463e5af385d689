// Entry point of a BFS worker thread (parallel.ts): the checker is TypeScript run through tsx,
// and a worker thread starts without the loader of the thread that made it.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
