/**
 * The checkout's root, whether this module runs from the sources or from the JavaScript build
 * (bin/js-build.mjs: `.build/<stamp>/conformance/root.js`), for what is read from the sources
 * themselves (the ports' text for traces, `init-impl`'s template).
 */
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const up = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = basename(dirname(up)) === '.build' ? dirname(dirname(up)) : up;
/** The JavaScript build this module runs from, or null (the sources, through tsx or vitest). */
export const BUILD_ROOT = basename(dirname(up)) === '.build' ? up : null;
