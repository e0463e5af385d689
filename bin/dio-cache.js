#!/usr/bin/env node
// Runs the CLI from its JavaScript build (js-build.mjs: made from the sources when they change),
// or, where that cannot be made, the TypeScript sources through tsx, so that `dio-cache` works
// from a checkout either way.
import { pathToFileURL } from 'node:url';
import { builtRoot } from './js-build.mjs';

const built = await builtRoot();
let main;
if (built) ({ main } = await import(pathToFileURL(`${built}/conformance/cli/main.js`).href));
else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../conformance/cli/main.ts'));
}
await main(process.argv);
