/**
 * What the file's imports say about the database driver, and which call shapes belong to
 * which driver. Names only: there is no type checker, so `pool.query` is `pg` because the
 * file imports `pg`, not because `pool` is known to be a `Pool`.
 */

/** Module specifier (exact or as a path prefix) → driver id reported in findings. */
const MODULE_DRIVERS: Array<[string, string]> = [
  ['pg-promise', 'pg-promise'],
  ['pg', 'pg'],
  ['pg-pool', 'pg'],
  ['pg-cursor', 'pg'],
  ['pg-query-stream', 'pg'],
  ['@neondatabase/serverless', 'pg'],
  ['mysql2', 'mysql2'],
  ['mysql', 'mysql2'],
  ['better-sqlite3', 'better-sqlite3'],
  ['sqlite3', 'sqlite3'],
  ['sqlite', 'sqlite3'],
  ['postgres', 'sql-tag'],
  ['slonik', 'sql-tag'],
  ['@vercel/postgres', 'sql-tag'],
  ['sql-template-strings', 'sql-tag'],
  ['sql-template-tag', 'sql-tag'],
  ['sequelize', 'sequelize'],
  ['sequelize-typescript', 'sequelize'],
  ['typeorm', 'typeorm'],
  ['@prisma/client', 'prisma'],
  ['knex', 'knex'],
];

export function driverOfModule(specifier: string): string | undefined {
  for (const [mod, driver] of MODULE_DRIVERS) {
    if (specifier === mod || specifier.startsWith(mod + '/')) return driver;
  }
  return undefined;
}

/** Modules whose default export (or a call of it) is a `sql` tag: `const sql = postgres(url)`. */
export const TAG_FACTORY_MODULES = new Set(['postgres', '@neondatabase/serverless']);
/** Modules whose named exports are `sql` tags, whatever the local name: `import { sql as q } from 'slonik'`. */
export const TAG_EXPORT_MODULES = new Set(['slonik', '@vercel/postgres', 'sql-template-strings', 'sql-template-tag', 'postgres']);

/** Method names of database APIs that take SQL text. A call `x.<name>(sql)` is read with driver confidence. */
export const DRIVER_METHODS = new Set([
  'query', 'execute', 'prepare', 'exec', 'run', 'get', 'all', 'each',
  'any', 'one', 'oneOrNone', 'many', 'manyOrNone', 'none', 'result', 'multi', 'multiResult',
  'maybeOne', 'anyFirst', 'oneFirst', 'maybeOneFirst', 'manyFirst',
  'raw', 'unsafe',
  '$queryRaw', '$executeRaw', '$queryRawUnsafe', '$executeRawUnsafe',
]);

/** Which drivers own each method name, in preference order. */
const METHOD_OWNERS: Record<string, string[]> = {
  query: ['pg', 'mysql2', 'pg-promise', 'sequelize', 'typeorm', 'sql-tag'],
  execute: ['mysql2'],
  prepare: ['better-sqlite3', 'sqlite3'],
  exec: ['better-sqlite3', 'sqlite3'],
  run: ['sqlite3'],
  get: ['sqlite3'],
  all: ['sqlite3'],
  each: ['sqlite3'],
  any: ['pg-promise', 'sql-tag'],
  one: ['pg-promise', 'sql-tag'],
  many: ['pg-promise', 'sql-tag'],
  oneOrNone: ['pg-promise'],
  manyOrNone: ['pg-promise'],
  none: ['pg-promise'],
  result: ['pg-promise'],
  multi: ['pg-promise'],
  multiResult: ['pg-promise'],
  maybeOne: ['sql-tag'],
  anyFirst: ['sql-tag'],
  oneFirst: ['sql-tag'],
  maybeOneFirst: ['sql-tag'],
  manyFirst: ['sql-tag'],
};

/** Methods whose driver does not depend on the imports. */
const FIXED_DRIVER: Record<string, string> = {
  $queryRaw: 'prisma',
  $executeRaw: 'prisma',
  $queryRawUnsafe: 'prisma',
  $executeRawUnsafe: 'prisma',
  raw: 'knex',
  unsafe: 'sql-tag',
};

/** Receiver names that tell the driver when the imports do not. */
const RECEIVER_HINTS: Array<[RegExp, string]> = [
  [/^sequelize$/i, 'sequelize'],
  [/^(queryRunner|dataSource|appDataSource|entityManager)$/i, 'typeorm'],
  [/^prisma$/i, 'prisma'],
  [/^knex$/i, 'knex'],
];

/**
 * The driver of a call: fixed by the method (`$queryRaw`, `.raw`), else the first imported
 * driver owning the method (a receiver name such as `sequelize` breaks ties), else a
 * receiver-name hint, else undefined (the caller falls back to `wrapper` / `unknown`).
 */
export function driverOfCall(method: string, receiver: string | undefined, imported: readonly string[]): string | undefined {
  const fixed = FIXED_DRIVER[method];
  if (fixed) return fixed;
  const owners = METHOD_OWNERS[method] ?? [];
  const candidates = imported.filter((d) => owners.includes(d));
  let hinted: string | undefined;
  if (receiver) for (const [re, d] of RECEIVER_HINTS) if (re.test(receiver)) hinted = d;
  if (candidates.length === 1) return candidates[0];
  if (candidates.length > 1) {
    if (hinted && candidates.includes(hinted)) return hinted;
    if (receiver && /manager|repository|repo$/i.test(receiver) && candidates.includes('typeorm')) return 'typeorm';
    return candidates[0];
  }
  if (hinted && owners.includes(hinted)) return hinted;
  return undefined;
}

/** Statement-object methods chained on `db.prepare(sql)`: the finding covers the whole chain. */
export const STATEMENT_CHAIN_METHODS = new Set(['run', 'get', 'all', 'iterate', 'pluck', 'expand', 'raw', 'bind', 'columns', 'safeIntegers', 'finalize']);

/** Roots of callee chains that never take SQL (`console.log`, `JSON.parse`, `document.querySelector`). */
export const EXCLUDED_ROOTS = new Set([
  'console', 'logger', 'log', 'winston', 'pino', 'bunyan', 'debug',
  'i18n', 'i18next', 'intl',
  'JSON', 'Math', 'Object', 'Array', 'String', 'Number', 'Boolean', 'Symbol', 'Reflect', 'Promise', 'Date', 'RegExp',
  'Intl', 'Buffer', 'URL', 'URLSearchParams', 'Map', 'Set', 'WeakMap',
  'document', 'window', 'navigator', 'location', 'history', 'localStorage', 'sessionStorage', 'globalThis',
  'process', 'path', 'fs', 'os', 'util', 'crypto', 'child_process',
  'assert', 'expect', 'chai', 'should', 'sinon', 'jest', 'vi', 'td',
  'Prisma', 'require', 'import',
]);

/** Test-framework functions: their titles are not SQL (`it('inserts a row')`, `describe.only('DELETE /jobs')`). */
export const TEST_FUNCTIONS = new Set([
  'describe', 'it', 'test', 'context', 'suite', 'specify', 'xit', 'xdescribe', 'fit', 'fdescribe', 'xtest', 'xcontext',
  'before', 'after', 'beforeEach', 'afterEach', 'beforeAll', 'afterAll', 'bench', 'scenario', 'feature', 'step',
]);
export const TEST_MODIFIERS = new Set(['only', 'skip', 'todo', 'each', 'concurrent', 'failing', 'serial', 'fixme', 'fails']);

/** Method (or plain function) names that never take SQL. */
export const EXCLUDED_METHODS = new Set([
  // logging
  'log', 'info', 'warn', 'warning', 'error', 'debug', 'trace', 'fatal', 'verbose', 'silly', 'notice', 'critical',
  // i18n and UI
  't', '$t', '__', 'translate', 'formatMessage', 'gettext', 'ngettext', 'alert', 'confirm', 'prompt', 'setTitle',
  'toast', 'notify', 'message',
  // DOM
  'querySelector', 'querySelectorAll', 'getElementById', 'getElementsByClassName', 'getElementsByTagName',
  'closest', 'matches', 'createElement', 'setAttribute', 'getAttribute', 'addEventListener', 'removeEventListener',
  'dispatchEvent', 'insertAdjacentHTML', 'write', 'writeln',
  // String.prototype
  'replace', 'replaceAll', 'split', 'includes', 'startsWith', 'endsWith', 'indexOf', 'lastIndexOf', 'match',
  'matchAll', 'search', 'localeCompare', 'padStart', 'padEnd', 'repeat', 'concat', 'normalize', 'charAt',
  // Array / collections: building a list of statements is not running one
  'push', 'unshift', 'add', 'set', 'has', 'append', 'fill', 'join',
  // test assertions
  'toBe', 'toEqual', 'toStrictEqual', 'toMatch', 'toContain', 'toThrow', 'toHaveBeenCalledWith', 'toMatchInlineSnapshot',
  'toMatchSnapshot', 'calledWith', 'calledWithMatch', 'equal', 'equals', 'deepEqual', 'strictEqual', 'notEqual',
  'ok', 'is', 'not', 'contains', 'withArgs', 'rejects', 'throws',
  // SQL text handed to a parser, formatter or highlighter is not run
  'parse', 'astify', 'tokenize', 'highlight', 'format', 'lint',
  // HTTP responses and promise settlement
  'send', 'json', 'jsonp', 'render', 'redirect', 'sendFile', 'reject', 'resolve',
  // errors, events, modules
  'Error', 'TypeError', 'RangeError', 'createError', 'emit', 'on', 'once', 'off', 'require', 'import', 'Symbol',
  'setTimeout', 'setInterval', 'fetch', 'encodeURIComponent', 'decodeURIComponent', 'parseInt', 'parseFloat',
]);

/** Receivers that hold generic `get/run/exec/all` methods unrelated to databases (`cache.get`, `app.get`). */
export const NON_DB_RECEIVERS = /^(cache|caches|redis|map|headers|params|searchParams|query|body|cookies|config|env|storage|localStorage|sessionStorage|url|formData|router|app|server|express|axios|http|https|request|req|res|response|api|route|store|registry|container|injector|queue|emitter|events|flags|features|settings|options|opts|props|state|context|ctx|regex|re|pattern|matcher|child_process|cp|shell|exec|promise|promises|tasks|jobsQueue)$/i;
