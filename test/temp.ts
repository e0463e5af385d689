/**
 * Temporary directories that a test file makes and removes when its tests are done, so that runs
 * of the suite leave nothing in the system's temporary directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/**
 * Call it at the top level of a test file (or of a describe): it registers the afterAll there
 * that removes every directory the returned function made. (A helper module's own top level
 * runs once per worker process, not once per file, so it cannot register the hook itself.)
 */
export function tempDirs(): (prefix: string) => string {
  const made: string[] = [];
  afterAll(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return (prefix) => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    made.push(dir);
    return dir;
  };
}
