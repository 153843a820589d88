/**
 * sqlmigrate's own version, read from its package.json by walking up from this module: the
 * module sits in out/server/src when built with tsc and in dist/ when bundled, so a fixed
 * relative path would be right for one layout only.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

let cached: string | undefined;

export function sqlmigrateVersion(): string {
  if (cached) return cached;
  cached = 'unknown';
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'sqlmigrate' && typeof pkg.version === 'string') {
        cached = pkg.version;
        break;
      }
    } catch {
      // no package.json here
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return cached;
}
