/**
 * Fixture pairs for the SQLAlchemy 2.0 rewrite (test/fixtures/rewrite/sqlalchemy2/):
 * `<shape>.input.py` → `<shape>.output.py`, and `na-<case>.py` files that must get no rewrite.
 * Refresh outputs after review with UPDATE_GOLDEN=1.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { check, checkNotApplicable, rewriteAll } from './check';

export const SQLALCHEMY_FIXTURES = path.join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'rewrite', 'sqlalchemy2');

describe('rewrite: SQLAlchemy 2.0 fixture pairs', () => {
  const files = fs.readdirSync(SQLALCHEMY_FIXTURES).sort();
  it('has pairs and not-applicable cases', () => {
    if (files.filter((f) => f.endsWith('.input.py')).length < 8) throw new Error('too few fixture pairs');
    if (files.filter((f) => f.startsWith('na-')).length < 8) throw new Error('too few not-applicable fixtures');
  });
  for (const file of files) {
    const full = path.join(SQLALCHEMY_FIXTURES, file);
    const m = /^(.*)\.input\.py$/.exec(file);
    if (m) {
      it(`${m[1]} (input → output)`, async () => {
        const before = fs.readFileSync(full, 'utf8');
        const outFile = path.join(SQLALCHEMY_FIXTURES, `${m[1]}.output.py`);
        if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(outFile, (await rewriteAll(before, file)).text);
        await check(before, fs.readFileSync(outFile, 'utf8'), file);
      });
    } else if (file.startsWith('na-') && file.endsWith('.py')) {
      it(`${file} (not applicable)`, async () => {
        const src = fs.readFileSync(full, 'utf8');
        const reason = /^# not applicable: (.*)$/m.exec(src)?.[1]?.trim() ?? '';
        if (!reason) throw new Error('the first line must be "# not applicable: <reason>"');
        await checkNotApplicable(src, reason, file);
      });
    }
  }
});
