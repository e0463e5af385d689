#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so that `dio-cache` works from a checkout without a build.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../conformance/cli/main.ts');
await main(process.argv);
