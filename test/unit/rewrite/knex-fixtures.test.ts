/**
 * Fixture pairs for the Knex rewrite (test/fixtures/rewrite/knex/<driver>/): `<case>.input.ts`
 * → `<case>.output.ts`, and `na-<case>.ts` files that must get no rewrite. Refresh outputs
 * after review with UPDATE_GOLDEN=1. A folder's `options.json` adds rewrite options for its
 * fixtures (schema-mapping/: `schemaMapping`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { OPTIONS, check, checkNotApplicable, rewriteAll } from './check';
import type { RewriteOptions } from '../../../server/src/engine/rewrite';

const ROOT = path.join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'rewrite', 'knex');

describe('rewrite: Knex fixture pairs', () => {
  for (const driver of fs.readdirSync(ROOT).filter((d) => fs.statSync(path.join(ROOT, d)).isDirectory()).sort()) {
    describe(driver, () => {
      const extra = path.join(ROOT, driver, 'options.json');
      const options: RewriteOptions = fs.existsSync(extra) ? { ...OPTIONS, ...JSON.parse(fs.readFileSync(extra, 'utf8')) } : OPTIONS;
      for (const file of fs.readdirSync(path.join(ROOT, driver)).sort()) {
        const full = path.join(ROOT, driver, file);
        const m = /^(.*)\.input\.(ts|js)$/.exec(file);
        if (m) {
          it(`${m[1]} (input → output)`, async () => {
            const before = fs.readFileSync(full, 'utf8');
            const outFile = path.join(ROOT, driver, `${m[1]}.output.${m[2]}`);
            if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(outFile, (await rewriteAll(before, file, options)).text);
            await check(before, fs.readFileSync(outFile, 'utf8'), file, options);
          });
        } else if (file.startsWith('na-')) {
          it(`${file} (not applicable)`, async () => {
            const src = fs.readFileSync(full, 'utf8');
            const reason = /^\/\/ not applicable: (.*)$/m.exec(src)?.[1]?.trim() ?? '';
            await checkNotApplicable(src, reason, file, options);
          });
        }
      }
    });
  }
});
