/**
 * `.sqlmigrate.json`: valid and invalid configurations, as tables, and how paths match.
 */
import * as assert from 'node:assert/strict';
import { ConfigError, DEFAULT_CONFIG, parseConfig, PathRules } from '../../server/src/engine/config';

const VALID: Array<[string, unknown, (c: ReturnType<typeof parseConfig>) => void]> = [
  ['empty object gives the defaults', {}, (c) => assert.deepEqual(c, DEFAULT_CONFIG)],
  ['postgres is an alias of postgresql', { dialect: 'postgres' }, (c) => assert.equal(c.dialect, 'postgresql')],
  ['string wrappers take the first argument', { wrappers: ['DB.query'] }, (c) => assert.deepEqual(c.wrappers, [{ callee: 'DB.query', sqlArgument: 0 }])],
  ['object wrappers keep their argument and dialect', { wrappers: [{ callee: 'Audit.exec', sqlArgument: 1, dialect: 'sqlite' }] }, (c) => assert.deepEqual(c.wrappers, [{ callee: 'Audit.exec', sqlArgument: 1, dialect: 'sqlite' }])],
  ['exceptions with reasons', { exceptions: [{ path: 'app/health.py', reason: 'probe stays raw' }] }, (c) => assert.equal(c.exceptions.length, 1)],
  ['a target', { target: { reduction: 0.75 } }, (c) => assert.equal(c.target.reduction, 0.75)],
  ['a $schema key', { $schema: './schemas/sqlmigrate.schema.json' }, (c) => assert.equal(c.dialect, 'postgresql')],
];

const INVALID: Array<[string, string, RegExp]> = [
  ['not JSON', '{ dialect: postgres }', /not valid JSON/],
  ['unknown dialect', '{"dialect":"oracle"}', /dialect/],
  ['unknown key', '{"dialects":"sqlite"}', /additional properties/],
  ['exception without a reason', '{"exceptions":[{"path":"a.py"}]}', /reason/],
  ['exception with an empty reason', '{"exceptions":[{"path":"a.py","reason":""}]}', /reason/],
  ['target above 100%', '{"target":{"reduction":1.5}}', /reduction/],
  ['absolute include', '{"include":["/etc/**"]}', /leaves the workspace/],
  ['parent-relative exclude', '{"exclude":["../x/**"]}', /leaves the workspace/],
  ['parent-relative exception', '{"exceptions":[{"path":"../a.py","reason":"because"}]}', /leaves the workspace/],
  ['session factory that is not a name', '{"sessionFactories":["get_session()"]}', /sessionFactories/],
  ['array at the root', '[]', /must be object/],
];

describe('config', () => {
  for (const [name, value, check] of VALID) {
    it(`accepts: ${name}`, () => check(parseConfig(JSON.stringify(value))));
  }
  for (const [name, text, message] of INVALID) {
    it(`rejects: ${name}`, () => {
      assert.throws(() => parseConfig(text), (e: unknown) => e instanceof ConfigError && message.test(e.message));
    });
  }
  it('accepts a BOM', () => {
    assert.equal(parseConfig('\uFEFF{"dialect":"mysql"}').dialect, 'mysql');
  });
});

describe('path rules', () => {
  const rules = new PathRules(parseConfig(JSON.stringify({
    include: ['src/**', 'app/**'],
    exclude: ['**/generated/**'],
    exceptions: [
      { path: 'app/health.py', reason: 'probe' },
      { path: 'src/legacy/**', reason: 'frozen', rules: ['raw-sql'] },
    ],
  })));
  const SCANNED: Array<[string, boolean]> = [
    ['src/db/jobs.ts', true],
    ['app/models.py', true],
    ['scripts/seed.py', false],
    ['src/generated/client.ts', false],
    ['src/node_modules/pg/index.js', false],
    ['src/db/jobs.d.ts', false],
    ['src/app.min.js', false],
    ['src/README.md', false],
    ['app/.hidden/x.py', true],
  ];
  for (const [file, expected] of SCANNED) {
    it(`${expected ? 'scans' : 'does not scan'} ${file}`, () => assert.equal(rules.isScanned(file), expected));
  }
  it('prunes excluded folders', () => {
    assert.equal(rules.isExcludedDirectory('src/node_modules'), true);
    assert.equal(rules.isExcludedDirectory('app/venv'), true);
    assert.equal(rules.isExcludedDirectory('src/db'), false);
  });
  it('matches exceptions by path and rule', () => {
    assert.equal(rules.exceptionFor('app/health.py', 'raw-sql')?.reason, 'probe');
    assert.equal(rules.exceptionFor('src/legacy/a.ts', 'raw-sql')?.reason, 'frozen');
    assert.equal(rules.exceptionFor('src/legacy/a.ts', 'manual-transaction'), undefined);
    assert.equal(rules.exceptionFor('src/db/jobs.ts', 'raw-sql'), undefined);
  });
});
