import fc from 'fast-check';

// FC_SEED=<n> replays a run; FC_RUNS scales effort. The seed in use is printed by each property test.
const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined;
const numRuns = process.env.FC_RUNS ? Number(process.env.FC_RUNS) : undefined;
fc.configureGlobal({ ...(seed !== undefined ? { seed } : {}), ...(numRuns ? { numRuns } : {}) });
