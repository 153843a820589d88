/**
 * Fixture pairs for the Knex rewrite (test/fixtures/rewrite/knex/<driver>/): `<case>.input.ts`
 * → `<case>.output.ts`, and `na-<case>.ts` files that must get no rewrite. Refresh outputs
 * after review with UPDATE_GOLDEN=1.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { check, checkNotApplicable, rewriteAll } from './check';

const ROOT = path.join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'rewrite', 'knex');

describe('rewrite: Knex fixture pairs', () => {
  for (const driver of fs.readdirSync(ROOT).filter((d) => fs.statSync(path.join(ROOT, d)).isDirectory()).sort()) {
    describe(driver, () => {
      for (const file of fs.readdirSync(path.join(ROOT, driver)).sort()) {
        const full = path.join(ROOT, driver, file);
        const m = /^(.*)\.input\.(ts|js)$/.exec(file);
        if (m) {
          it(`${m[1]} (input → output)`, async () => {
            const before = fs.readFileSync(full, 'utf8');
            const outFile = path.join(ROOT, driver, `${m[1]}.output.${m[2]}`);
            if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(outFile, (await rewriteAll(before, file)).text);
            await check(before, fs.readFileSync(outFile, 'utf8'), file);
          });
        } else if (file.startsWith('na-')) {
          it(`${file} (not applicable)`, async () => {
            const src = fs.readFileSync(full, 'utf8');
            const reason = /^\/\/ not applicable: (.*)$/m.exec(src)?.[1]?.trim() ?? '';
            await checkNotApplicable(src, reason, file);
          });
        }
      }
    });
  }
});
