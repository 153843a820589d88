/**
 * The TypeScript / JavaScript detector: raw SQL call sites (`pool.query('SELECT ...')`,
 * `db.prepare(...).all()`, `sql\`...\``, `prisma.$queryRaw`, `knex.raw`, project wrappers)
 * and manual transactions (`BEGIN` ... `COMMIT` through a driver in one function).
 *
 * One parse (`ts.createSourceFile`, no Program or checker), one iterative walk that collects
 * calls, tagged templates, imports and declarations; then each candidate is judged on its own.
 * The detector never throws: internal errors become `problems` next to what was found.
 */
import ts = require('typescript');
import { dialectForDriver, dynamicPlaceholder, rawSqlFinding, sessionFinding } from '../common';
import { isSqlText } from '../../sql/analyze';
import { leadingKeyword, lexSql } from '../../sql/lexer';
import type { Dialect, DetectOptions, DetectorResult, Finding, Language, Range, RecoveredSql, WrapperSpec } from '../../types';
import { collectComments, type Span } from './comments';
import {
  DRIVER_METHODS, EXCLUDED_METHODS, EXCLUDED_ROOTS, NON_DB_RECEIVERS, STATEMENT_CHAIN_METHODS, TAG_EXPORT_MODULES,
  TAG_FACTORY_MODULES, TEST_FUNCTIONS, TEST_MODIFIERS, driverOfCall, driverOfModule,
} from './drivers';
import { lspPosition } from './lines';
import { languageOf, parseFile } from './parse';
import { Recoverer, compact, propertyNameText, rootIdentifier } from './recover';
import { ScopeIndex, skipParens } from './scope';


export function detectTypeScript(text: string, fileName: string, options: DetectOptions): DetectorResult {
  const result: DetectorResult = { findings: [], comments: [], problems: [] };
  try {
    new Detector(text, fileName, options, result).run();
  } catch (e) {
    result.problems.push({ message: `TypeScript detector internal error: ${describe(e)}; findings may be incomplete` });
  }
  return result;
}

type TxRole = 'begin' | 'end' | 'savepoint' | 'connect' | 'release';

interface TxEvent {
  role: TxRole;
  node: ts.Node;
  start: number;
  end: number;
  driver?: string;
  callee: string;
  via?: { module: string; name: string };
}

interface Site {
  start: number;
  end: number;
  callee: string;
  driver: string;
  dialect: Dialect;
  sql: RecoveredSql;
  fn: ts.Node;
  via?: { module: string; name: string };
}

interface CalleeInfo {
  text: string;
  method: string;
  hasReceiver: boolean;
  receiverName?: string;
  receiver?: ts.Expression;
  root?: string;
}

/** Drivers whose client objects are worth following across files (tag libraries are found by name instead). */
function clientDriver(driver: string | undefined): string | undefined {
  return driver && driver !== 'sql-tag' && driver !== 'knex' ? driver : undefined;
}

/** Libraries that take SQL text to parse, format or highlight it, never to run it. */
const SQL_TOOL_MODULES = /^(sql-formatter|node-sql-parser|pgsql-ast-parser|sql-parser-cst|sql-highlight|prismjs|highlight\.js|shiki|@codemirror\/.*|monaco-editor|pg-query-parser|libpg-query|dt-sql-parser)(\/|$)/;

const TX_KEYWORDS = new Set(['BEGIN', 'START', 'COMMIT', 'ROLLBACK', 'END', 'SAVEPOINT', 'RELEASE']);
const MAX_PROBLEMS = 5;

class Detector {
  private readonly language: Language;
  private sf!: ts.SourceFile;
  private readonly scope = new ScopeIndex();
  private recoverer!: Recoverer;
  private readonly calls: ts.CallExpression[] = [];
  private readonly tagged: ts.TaggedTemplateExpression[] = [];
  private readonly skipSpans: Span[] = [];
  /** Drivers named by imports, in order of appearance. */
  private readonly imported: string[] = [];
  /** Local name → module it was imported from, and the imported name (`default`, `*`, or the export). */
  private readonly importLocals = new Map<string, { module: string; imported: string }>();
  private readonly tagNames = new Set<string>(['sql', 'SQL']);
  /** Connections taken from an imported pool (`const client = await pool.connect()`), by local name. */
  private readonly connectionLocals = new Map<string, { module: string; name: string }>();
  /** Names bound to `sql.begin(async (tx) => ...)` callbacks: postgres.js transaction tags. */
  private readonly beginCallbacks: ts.CallExpression[] = [];
  private readonly consumedTags = new Set<ts.Node>();
  private readonly sites: Site[] = [];
  private readonly txEvents = new Map<ts.Node, TxEvent[]>();
  private internalProblems = 0;

  constructor(
    private readonly text: string,
    private readonly fileName: string,
    private readonly options: DetectOptions,
    private readonly result: DetectorResult,
  ) {
    this.language = languageOf(fileName);
  }

  run(): void {
    const parsed = parseFile(this.text, this.fileName);
    this.sf = parsed.sourceFile;
    this.result.problems.push(...parsed.problems);
    this.reportSyntaxErrors();
    this.walk();
    this.result.comments = collectComments(parsed.text, this.sf, this.skipSpans);
    this.resolveTagNames();
    this.recoverer = new Recoverer(this.sf, this.scope, this.tagNames);
    for (const call of this.calls) this.guard(call, () => this.visitCall(call));
    for (const t of this.tagged) this.guard(t, () => this.visitTagged(t));
    this.emit();
    this.guard(this.sf, () => this.collectDriverExports());
  }

  // ---------------------------------------------------------------- drivers across files

  /** `const client = await pool.connect()` with `pool` imported: `client` leads to the same import. */
  private noteConnectionLocal(call: ts.CallExpression, info: CalleeInfo): void {
    let node: ts.Node = call;
    while (node.parent && (ts.isAwaitExpression(node.parent) || ts.isParenthesizedExpression(node.parent))) node = node.parent;
    const decl = node.parent;
    if (!decl || !ts.isVariableDeclaration(decl) || decl.initializer !== node || !ts.isIdentifier(decl.name)) return;
    const via = this.importedReceiver(info);
    if (via) this.connectionLocals.set(decl.name.text, via);
  }

  /** The relative import a call's receiver came from: `pool` of `import { pool } from './pool'`, `db.pool` of `import * as db`. */
  private importedReceiver(info: CalleeInfo): { module: string; name: string } | undefined {
    if (!info.root || !info.hasReceiver) return undefined;
    const conn = this.importLocals.has(info.root) ? undefined : this.connectionLocals.get(info.root);
    if (conn) return conn;
    const imp = this.importLocals.get(info.root);
    if (!imp || !imp.module.startsWith('.')) return undefined;
    if (imp.imported !== '*') return { module: imp.module, name: imp.imported };
    const parts = info.text.split('.');
    return parts.length >= 3 && /^[A-Za-z_$][\w$]*$/.test(parts[1]) ? { module: imp.module, name: parts[1] } : undefined;
  }

  /** The driver whose client an expression creates: `new Pool()`, `mysql.createPool()`, `pgp(url)`, `await open()`. */
  private driverOfInit(e: ts.Expression | undefined, locals: Map<string, string>): string | undefined {
    if (!e) return undefined;
    let x = skipParens(e);
    for (let k = 0; k < 10; k++) {
      if (ts.isAwaitExpression(x) || ts.isAsExpression(x) || ts.isNonNullExpression(x) || ts.isSatisfiesExpression(x)) x = skipParens(x.expression);
      else break;
    }
    if (ts.isIdentifier(x)) return locals.get(x.text);
    if (!ts.isNewExpression(x) && !ts.isCallExpression(x)) return undefined;
    // require('pg-promise')(), require('better-sqlite3')(file)
    let callee = skipParens(x.expression);
    for (let k = 0; k < 20 && (ts.isCallExpression(callee) || ts.isPropertyAccessExpression(callee)); k++) {
      if (ts.isCallExpression(callee) && ts.isIdentifier(callee.expression) && callee.expression.text === 'require') {
        const arg = callee.arguments[0];
        return arg && ts.isStringLiteralLike(arg) ? clientDriver(driverOfModule(arg.text)) : undefined;
      }
      callee = skipParens(callee.expression);
    }
    const root = rootIdentifier(x.expression);
    if (!root) return undefined;
    const imp = this.importLocals.get(root);
    if (imp) return clientDriver(driverOfModule(imp.module));
    return locals.get(root);
  }

  /** Top-level names bound to a driver's client, and which of them the module exports. */
  private collectDriverExports(): void {
    if (!this.imported.length) return;
    const locals = new Map<string, string>();
    const exports: Record<string, string> = {};
    const exported = (node: ts.Node) => !!ts.getModifiers(node as ts.HasModifiers)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
    const isDefault = (node: ts.Node) => !!ts.getModifiers(node as ts.HasModifiers)?.some((m) => m.kind === ts.SyntaxKind.DefaultKeyword);
    const moduleExportsTarget = (e: ts.Expression): string | undefined => {
      // module.exports = x → default; module.exports.x = … / exports.x = … → x
      if (ts.isPropertyAccessExpression(e)) {
        const obj = e.expression;
        if (ts.isIdentifier(obj) && obj.text === 'module' && e.name.text === 'exports') return 'default';
        if (ts.isIdentifier(obj) && obj.text === 'exports') return e.name.text;
        if (ts.isPropertyAccessExpression(obj) && ts.isIdentifier(obj.expression) && obj.expression.text === 'module' && obj.name.text === 'exports') return e.name.text;
      }
      return undefined;
    };
    for (const st of this.sf.statements) {
      if (ts.isVariableStatement(st)) {
        for (const d of st.declarationList.declarations) {
          if (!ts.isIdentifier(d.name)) continue;
          const driver = this.driverOfInit(d.initializer, locals);
          if (!driver) continue;
          locals.set(d.name.text, driver);
          if (exported(st)) exports[d.name.text] = driver;
        }
      } else if (ts.isExportDeclaration(st) && !st.moduleSpecifier && st.exportClause && ts.isNamedExports(st.exportClause)) {
        for (const el of st.exportClause.elements) {
          const local = (el.propertyName ?? el.name).text;
          const driver = locals.get(local);
          if (driver) exports[el.name.text] = driver;
        }
      } else if (ts.isExportAssignment(st)) {
        const driver = this.driverOfInit(st.expression, locals);
        if (driver) exports.default = driver;
      } else if ((ts.isClassDeclaration(st) || ts.isFunctionDeclaration(st)) && exported(st) && isDefault(st)) {
        // export default class/function: not a client
      } else if (ts.isExpressionStatement(st) && ts.isBinaryExpression(st.expression) && st.expression.operatorToken.kind === ts.SyntaxKind.EqualsToken) {
        const target = moduleExportsTarget(st.expression.left);
        if (!target) continue;
        const right = skipParens(st.expression.right);
        if (target === 'default' && ts.isObjectLiteralExpression(right)) {
          for (const p of right.properties) {
            if (ts.isShorthandPropertyAssignment(p) && locals.has(p.name.text)) exports[p.name.text] = locals.get(p.name.text)!;
            else if (ts.isPropertyAssignment(p) && ts.isIdentifier(p.name)) {
              const driver = this.driverOfInit(p.initializer, locals);
              if (driver) exports[p.name.text] = driver;
            }
          }
          continue;
        }
        const driver = this.driverOfInit(right, locals);
        if (driver) exports[target] = driver;
      }
    }
    if (Object.keys(exports).length) this.result.driverExports = exports;
  }

  // ---------------------------------------------------------------- walk

  private walk(): void {
    const stack: ts.Node[] = [this.sf];
    const kids: ts.Node[] = [];
    while (stack.length) {
      const node = stack.pop()!;
      this.collect(node);
      kids.length = 0;
      ts.forEachChild(node, (c) => {
        kids.push(c);
      });
      for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]);
    }
  }

  private collect(node: ts.Node): void {
    switch (node.kind) {
      case ts.SyntaxKind.StringLiteral:
      case ts.SyntaxKind.NoSubstitutionTemplateLiteral:
      case ts.SyntaxKind.TemplateHead:
      case ts.SyntaxKind.TemplateMiddle:
      case ts.SyntaxKind.TemplateTail:
      case ts.SyntaxKind.RegularExpressionLiteral:
        this.skipSpans.push({ start: node.getStart(this.sf), end: node.end });
        return;
      case ts.SyntaxKind.JsxText:
        // JSX text has no trivia: `//` in it is text, not a comment.
        this.skipSpans.push({ start: node.pos, end: node.end });
        return;
      case ts.SyntaxKind.CallExpression: {
        const call = node as ts.CallExpression;
        this.calls.push(call);
        if (call.expression.kind === ts.SyntaxKind.ImportKeyword) this.noteImport(call.arguments[0]);
        else if (ts.isIdentifier(call.expression) && call.expression.text === 'require') this.noteRequire(call);
        break;
      }
      case ts.SyntaxKind.TaggedTemplateExpression:
        this.tagged.push(node as ts.TaggedTemplateExpression);
        break;
      case ts.SyntaxKind.ImportDeclaration: {
        const imp = node as ts.ImportDeclaration;
        const clause = imp.importClause;
        const spec = this.noteImport(imp.moduleSpecifier);
        if (spec && clause) {
          if (clause.name) this.importLocals.set(clause.name.text, { module: spec, imported: 'default' });
          const b = clause.namedBindings;
          if (b && ts.isNamespaceImport(b)) this.importLocals.set(b.name.text, { module: spec, imported: '*' });
          if (b && ts.isNamedImports(b)) {
            for (const el of b.elements) {
              const importedName = el.propertyName ? propertyNameText(el.propertyName as ts.PropertyName) ?? el.name.text : el.name.text;
              this.importLocals.set(el.name.text, { module: spec, imported: importedName });
            }
          }
        }
        break;
      }
      case ts.SyntaxKind.ImportEqualsDeclaration: {
        const imp = node as ts.ImportEqualsDeclaration;
        if (ts.isExternalModuleReference(imp.moduleReference)) {
          const spec = this.noteImport(imp.moduleReference.expression);
          if (spec) this.importLocals.set(imp.name.text, { module: spec, imported: '*' });
        }
        break;
      }
      default:
        break;
    }
    this.scope.visit(node);
  }

  private noteImport(specNode: ts.Node | undefined): string | undefined {
    if (!specNode || !ts.isStringLiteralLike(specNode)) return undefined;
    const spec = specNode.text;
    const driver = driverOfModule(spec);
    if (driver && !this.imported.includes(driver)) this.imported.push(driver);
    return spec;
  }

  private noteRequire(call: ts.CallExpression): void {
    const spec = this.noteImport(call.arguments[0]);
    if (!spec) return;
    const parent = call.parent;
    if (parent && ts.isVariableDeclaration(parent) && parent.initializer === call) {
      if (ts.isIdentifier(parent.name)) this.importLocals.set(parent.name.text, { module: spec, imported: '*' });
      else if (ts.isObjectBindingPattern(parent.name)) {
        for (const el of parent.name.elements) {
          if (!ts.isIdentifier(el.name)) continue;
          const importedName = el.propertyName ? propertyNameText(el.propertyName) ?? el.name.text : el.name.text;
          this.importLocals.set(el.name.text, { module: spec, imported: importedName });
        }
      }
    }
  }

  /** `sql` tag names beyond `sql`/`SQL`: aliases of imported tags, `postgres()` instances, `sql.begin` callback parameters. */
  private resolveTagNames(): void {
    for (const [local, { module, imported }] of this.importLocals) {
      const base = moduleBase(module);
      if (TAG_EXPORT_MODULES.has(base) && (imported === 'sql' || imported === 'SQL' || (imported === 'default' && base.startsWith('sql-template')))) {
        this.tagNames.add(local);
      }
    }
    const isFactory = (e: ts.Expression): boolean => {
      const c = skipParens(e);
      if (ts.isIdentifier(c)) {
        const imp = this.importLocals.get(c.text);
        return !!imp && TAG_FACTORY_MODULES.has(moduleBase(imp.module)) && (imp.imported === 'default' || imp.imported === '*' || imp.imported === 'neon' || imp.imported === 'postgres');
      }
      // require('postgres')(url)
      return ts.isCallExpression(c) && ts.isIdentifier(c.expression) && c.expression.text === 'require' && !!c.arguments[0] &&
        ts.isStringLiteralLike(c.arguments[0]) && TAG_FACTORY_MODULES.has(moduleBase(c.arguments[0].text));
    };
    for (const call of this.calls) {
      const parent = call.parent;
      if (isFactory(call.expression) && parent && ts.isVariableDeclaration(parent) && ts.isIdentifier(parent.name)) {
        this.tagNames.add(parent.name.text);
      }
    }
    // sql.begin(async (tx) => { await tx`...` }) and savepoint callbacks, possibly nested.
    for (let round = 0; round < 3; round++) {
      for (const call of this.calls) {
        const callee = skipParens(call.expression);
        if (!ts.isPropertyAccessExpression(callee) || !['begin', 'savepoint', 'reserve'].includes(callee.name.text)) continue;
        const root = rootIdentifier(callee);
        if (!root || !this.tagNames.has(root)) continue;
        for (const arg of call.arguments) {
          if ((ts.isArrowFunction(arg) || ts.isFunctionExpression(arg)) && arg.parameters[0] && ts.isIdentifier(arg.parameters[0].name)) {
            this.tagNames.add(arg.parameters[0].name.text);
          }
        }
      }
    }
  }

  // ---------------------------------------------------------------- calls

  private visitCall(call: ts.CallExpression): void {
    const calleeExpr = skipParens(call.expression);
    if (calleeExpr.kind === ts.SyntaxKind.ImportKeyword || calleeExpr.kind === ts.SyntaxKind.SuperKeyword) return;
    const info = this.calleeInfo(calleeExpr);
    if (!info) return;
    this.noteTxMethod(call, info);

    const wrapper = this.matchWrapper(info.text);
    if (!wrapper && this.isExcluded(info)) return;
    const argIndex = wrapper ? wrapper.sqlArgument ?? 0 : 0;
    let arg = call.arguments[argIndex];
    if (!arg) return;

    // `re.exec(text)`, `/x/.test(text)`: regular expressions never run SQL.
    if (!wrapper && this.isRegexReceiver(info.receiver)) return;
    const knownMethod = info.hasReceiver && DRIVER_METHODS.has(info.method);
    const driverLike = knownMethod && !(info.receiverName && NON_DB_RECEIVERS.test(info.receiverName));
    const confidence: 'driver' | 'unknown' = wrapper || driverLike ? 'driver' : 'unknown';
    if (knownMethod && !wrapper) {
      const textProp = this.objectSqlProperty(arg);
      if (textProp) arg = textProp;
    }

    let driver = info.method === 'raw' && info.root && this.tagNames.has(info.root)
      ? 'sql-tag' // sql.raw(...) of a tag library, not knex
      : driverOfCall(info.method, info.receiverName, this.imported) ?? (wrapper ? 'wrapper' : undefined);
    let dialect = dialectForDriver(driver ?? '') ?? wrapper?.dialect ?? this.options.defaultDialect;
    let rec = this.recoverer.recover(arg, dialect);
    if (!rec) return;
    if (!driver) {
      const tagDriver = rec.tags.length ? this.recoverer.tagInfo(rec.tags[0].tag)?.driver : undefined;
      driver = tagDriver ?? 'unknown';
      const d2 = dialectForDriver(driver) ?? this.options.defaultDialect;
      if (d2 !== dialect) {
        dialect = d2;
        rec = this.recoverer.recover(arg, dialect) ?? rec;
      }
    }
    const sql = parenthesiseCastParams(normaliseDriverParams(rec.sql, driver), dialect);
    const fn = enclosingFunction(call);
    const txRole = confidence === 'driver' ? transactionRole(sql.text, dialect) : undefined;
    if (txRole) {
      this.addTx(fn, { role: txRole, node: call, start: call.getStart(this.sf), end: call.end, driver, callee: info.text, via: driver === 'unknown' ? this.importedReceiver(info) : undefined });
      return;
    }
    if (!isSqlText(sql.text, confidence, dialect) && !isScriptWithTransaction(sql.text, confidence, dialect)) return;

    for (const t of rec.tags) this.consumedTags.add(t);
    // better-sqlite3: db.prepare(sql).all(...) — the finding covers the chain.
    let endNode: ts.Node = call;
    if (info.method === 'prepare') {
      for (let k = 0; k < 20; k++) {
        const p = endNode.parent;
        if (p && ts.isPropertyAccessExpression(p) && p.expression === endNode && STATEMENT_CHAIN_METHODS.has(p.name.text) &&
          p.parent && ts.isCallExpression(p.parent) && p.parent.expression === p) {
          endNode = p.parent;
        } else {
          break;
        }
      }
    }
    this.sites.push({ start: call.getStart(this.sf), end: endNode.end, callee: info.text, driver, dialect, sql, fn, via: driver === 'unknown' ? this.importedReceiver(info) : undefined });
  }

  private visitTagged(t: ts.TaggedTemplateExpression): void {
    if (this.consumedTags.has(t)) return;
    const info = this.recoverer.tagInfo(t.tag);
    if (!info || info.role !== 'statement' || isNestedInSqlTag(t, this.recoverer)) return;
    const driver = info.driver;
    const dialect = dialectForDriver(driver) ?? this.options.defaultDialect;
    const rec = this.recoverer.recover(t, dialect);
    if (!rec) return;
    rec.sql = parenthesiseCastParams(rec.sql, dialect);
    const callee = tagCalleeText(t.tag, this.sf);
    const fn = enclosingFunction(t);
    const txRole = transactionRole(rec.sql.text, dialect);
    if (txRole) {
      this.addTx(fn, { role: txRole, node: t, start: t.getStart(this.sf), end: t.end, driver, callee });
      return;
    }
    if (!isSqlText(rec.sql.text, 'driver', dialect)) return;
    this.sites.push({ start: t.getStart(this.sf), end: t.end, callee, driver, dialect, sql: rec.sql, fn });
  }

  /** pg `{ text, values }` / mysql2 `{ sql, values }` object form, inline or held by a const. */
  private objectSqlProperty(arg: ts.Expression): ts.Expression | undefined {
    let obj = skipParens(arg);
    if (ts.isIdentifier(obj)) {
      const d = this.scope.resolve(obj);
      if (!d?.init || d.flavour !== 'const') return undefined;
      obj = skipParens(d.init);
    }
    if (!ts.isObjectLiteralExpression(obj)) return undefined;
    for (const p of obj.properties) {
      const name = p.name ? propertyNameText(p.name) : undefined;
      if (name !== 'text' && name !== 'sql' && name !== 'query') continue;
      if (ts.isPropertyAssignment(p)) return p.initializer;
      if (ts.isShorthandPropertyAssignment(p)) return p.name;
    }
    return undefined;
  }

  private calleeInfo(callee: ts.Expression): CalleeInfo | undefined {
    let method: string | undefined;
    let receiver: ts.Expression | undefined;
    if (ts.isIdentifier(callee)) method = callee.text;
    else if (ts.isPropertyAccessExpression(callee)) {
      method = callee.name.text;
      receiver = skipParens(callee.expression);
    } else if (ts.isElementAccessExpression(callee) && ts.isStringLiteralLike(callee.argumentExpression)) {
      method = callee.argumentExpression.text;
      receiver = skipParens(callee.expression);
    }
    if (!method) return undefined;
    return {
      text: calleeText(callee, this.sf),
      method,
      hasReceiver: !!receiver,
      receiver,
      receiverName: receiver ? lastSegment(receiver) : undefined,
      root: rootIdentifier(callee),
    };
  }

  private isExcluded(info: CalleeInfo): boolean {
    if (info.root && EXCLUDED_ROOTS.has(info.root)) return true;
    if (info.root && TEST_FUNCTIONS.has(info.root) && (!info.hasReceiver || TEST_MODIFIERS.has(info.method) || TEST_FUNCTIONS.has(info.method))) return true;
    if (EXCLUDED_METHODS.has(info.method)) return true;
    // `import { format as formatSql } from 'sql-formatter'`: judged by the imported name and module
    const imp = info.root ? this.importLocals.get(info.root) : undefined;
    if (imp) {
      if (!info.hasReceiver && EXCLUDED_METHODS.has(imp.imported)) return true;
      if (SQL_TOOL_MODULES.test(imp.module)) return true;
    }
    if (!info.hasReceiver && /(Error|Exception)$/.test(info.method)) return true;
    if (info.receiverName && /^(console|logger|log|i18n|i18next|intl)$/i.test(info.receiverName)) return true;
    return false;
  }

  private isRegexReceiver(receiver: ts.Expression | undefined): boolean {
    if (!receiver) return false;
    let r = skipParens(receiver);
    if (ts.isIdentifier(r)) {
      const d = this.scope.resolve(r);
      if (d?.init) r = skipParens(d.init);
    }
    if (ts.isRegularExpressionLiteral(r)) return true;
    return (ts.isNewExpression(r) || ts.isCallExpression(r)) && ts.isIdentifier(r.expression) && r.expression.text === 'RegExp';
  }

  private matchWrapper(callee: string): WrapperSpec | undefined {
    for (const w of this.options.wrappers ?? []) {
      const spec = (w.callee ?? '').trim().replace(/\(\)$/, '').replace(/\?\./g, '.');
      if (!spec) continue;
      if (callee === spec || callee.endsWith('.' + spec)) return w;
    }
    return undefined;
  }

  // ---------------------------------------------------------------- transactions

  /** Transaction calls that carry no SQL: `beginTransaction()`, `trx.commit()`, `pool.connect()`, `client.release()`. */
  private noteTxMethod(call: ts.CallExpression, info: CalleeInfo): void {
    if (!info.hasReceiver) return;
    const noSql = call.arguments.every((a) => !ts.isStringLiteralLike(a) && !ts.isTemplateExpression(a));
    let role: TxRole | undefined;
    switch (info.method) {
      case 'beginTransaction': case 'startTransaction':
        role = 'begin';
        break;
      case 'transaction':
        // knex / sequelize unmanaged transactions: `const trx = await knex.transaction()`
        if (call.arguments.length === 0) role = 'begin';
        break;
      case 'commit': case 'rollback': case 'commitTransaction': case 'rollbackTransaction':
        if (noSql) role = 'end';
        break;
      case 'connect': case 'getConnection':
        if (call.arguments.length === 0) role = 'connect';
        break;
      case 'release':
        role = 'release';
        break;
      default:
        return;
    }
    if (!role) return;
    if (role === 'connect') this.noteConnectionLocal(call, info);
    const driver = role === 'begin' ? driverOfCall('query', info.receiverName, this.imported) ?? this.txMethodDriver(info.method) : undefined;
    this.addTx(enclosingFunction(call), { role, node: call, start: call.getStart(this.sf), end: call.end, driver, callee: info.text });
  }

  private txMethodDriver(method: string): string | undefined {
    if (method === 'beginTransaction' && this.imported.includes('mysql2')) return 'mysql2';
    if (method === 'startTransaction' && this.imported.includes('typeorm')) return 'typeorm';
    if (method === 'transaction') return this.imported.find((d) => d === 'knex' || d === 'sequelize');
    return undefined;
  }

  private addTx(fn: ts.Node, ev: TxEvent): void {
    const list = this.txEvents.get(fn);
    if (list) list.push(ev);
    else this.txEvents.set(fn, [ev]);
  }

  // ---------------------------------------------------------------- output

  private emit(): void {
    const findings: Finding[] = [];
    for (const s of this.sites) {
      try {
        const f = rawSqlFinding({
          range: this.range(s.start, s.end), language: this.language, driver: s.driver, callee: s.callee, sql: s.sql, dialect: s.dialect,
        });
        if (s.via) f.via = s.via;
        findings.push(f);
      } catch (e) {
        this.internalProblem(`could not analyse the SQL at line ${lspPosition(this.sf, s.start).line + 1}: ${describe(e)}`, s.start, s.end);
      }
    }
    for (const [fn, own] of this.txEvents) {
      const begins = own.filter((e) => e.role === 'begin').sort((a, b) => a.start - b.start);
      if (!begins.length) continue;
      const first = begins[0];
      let events = own;
      let ends = events.filter((e) => e.role === 'end' && e.start > first.start);
      if (!ends.length) {
        // Callback style: BEGIN here, COMMIT / ROLLBACK in callbacks nested inside this function.
        const nested: TxEvent[] = [];
        for (const [inner, list] of this.txEvents) {
          if (inner === fn || inner.pos < fn.pos || inner.end > fn.end || list.some((e) => e.role === 'begin')) continue;
          nested.push(...list.filter((e) => e.role !== 'connect'));
        }
        events = [...own, ...nested];
        ends = events.filter((e) => e.role === 'end' && e.start > first.start);
      }
      if (!ends.length) continue;
      const connect = events.filter((e) => e.role === 'connect' && e.start < first.start).sort((a, b) => a.start - b.start)[0];
      const start = connect ? connect.start : first.start;
      const end = Math.max(...events.filter((e) => (e.role === 'end' || e.role === 'release') && e.start > start).map((e) => e.end));
      const driver = first.driver ?? begins.find((b) => b.driver)?.driver ?? 'unknown';
      const via = driver === 'unknown' ? begins.find((b) => b.via)?.via : undefined;
      const inside = this.sites.filter((s) => s.fn.pos >= fn.pos && s.fn.end <= fn.end && s.start >= start && s.start <= end);
      const tables = [...new Set(inside.flatMap((s) => findings.find((f) => f.sql === s.sql)?.tables ?? []))];
      const how = first.node && ts.isCallExpression(first.node) && !first.node.arguments.length ? `${first.callee}()` : `BEGIN via ${first.callee}`;
      const txFinding = sessionFinding({
        rule: 'manual-transaction',
        range: this.range(start, end),
        language: this.language,
        driver,
        kind: 'other',
        callee: first.callee,
        tables,
        complexity: inside.length > 2 ? 'medium' : 'simple',
        message: `Manual transaction (${how} … ${ends.length > 1 ? 'COMMIT/ROLLBACK' : 'COMMIT or ROLLBACK'}) in ${functionName(fn)}` +
          `${inside.length ? ` around ${inside.length} raw statement${inside.length > 1 ? 's' : ''}` : ''}; move it to the query builder's transaction API`,
      });
      if (via) txFinding.via = via;
      findings.push(txFinding);
    }
    findings.sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character);
    this.result.findings.push(...findings);
  }

  private range(start: number, end: number): Range {
    return { start: lspPosition(this.sf, start), end: lspPosition(this.sf, end) };
  }

  private reportSyntaxErrors(): void {
    const diags = (this.sf as unknown as { parseDiagnostics?: ts.DiagnosticWithLocation[] }).parseDiagnostics ?? [];
    for (const d of diags.slice(0, MAX_PROBLEMS)) {
      const start = d.start ?? 0;
      this.result.problems.push({
        message: `Syntax error: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`,
        range: this.range(start, start + (d.length ?? 0)),
      });
    }
    if (diags.length > MAX_PROBLEMS) this.result.problems.push({ message: `${diags.length - MAX_PROBLEMS} more syntax errors not listed` });
  }

  private guard(node: ts.Node, f: () => void): void {
    try {
      f();
    } catch (e) {
      this.internalProblem(`could not analyse the expression at line ${lspPosition(this.sf, node.pos).line + 1}: ${describe(e)}`, node.getStart(this.sf), node.end);
    }
  }

  private internalProblem(message: string, start: number, end: number): void {
    if (++this.internalProblems > MAX_PROBLEMS) return;
    this.result.problems.push({ message: `TypeScript detector: ${message}`, range: this.range(start, end) });
  }
}

// ------------------------------------------------------------------ helpers

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

function moduleBase(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** The nearest function (or the file) around `node`. */
function enclosingFunction(node: ts.Node): ts.Node {
  for (let p = node.parent; p; p = p.parent) {
    if (ts.isFunctionLike(p) || ts.isClassStaticBlockDeclaration(p) || ts.isSourceFile(p)) return p;
  }
  return node.getSourceFile();
}

function functionName(fn: ts.Node): string {
  if (ts.isSourceFile(fn)) return 'the module body';
  const named = fn as ts.Node & { name?: ts.Node };
  if (named.name && ts.isIdentifier(named.name)) return `${named.name.text}()`;
  const parent = fn.parent;
  if (parent && (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) && ts.isIdentifier(parent.name)) {
    return `${parent.name.text}()`;
  }
  return 'an anonymous function';
}

/** `pool.query`, `this.db.prepare`, `getPool().query`, `db?.query` → `db.query`. */
function calleeText(callee: ts.Expression, sf: ts.SourceFile): string {
  const parts: string[] = [];
  let e = skipParens(callee);
  for (let k = 0; k < 30; k++) {
    if (ts.isPropertyAccessExpression(e)) {
      parts.unshift('.' + e.name.text);
      e = skipParens(e.expression);
    } else if (ts.isElementAccessExpression(e)) {
      parts.unshift(ts.isStringLiteralLike(e.argumentExpression) ? '.' + e.argumentExpression.text : '[…]');
      e = skipParens(e.expression);
    } else if (ts.isCallExpression(e)) {
      parts.unshift('()');
      e = skipParens(e.expression);
    } else {
      break;
    }
  }
  let root: string;
  if (ts.isIdentifier(e)) root = e.text;
  else if (e.kind === ts.SyntaxKind.ThisKeyword) root = 'this';
  else {
    const t = compact(e.getText(sf));
    root = t.length > 30 ? '(…)' : `(${t})`;
  }
  return (root + parts.join('')).replace(/^\./, '');
}

function tagCalleeText(tag: ts.Expression, sf: ts.SourceFile): string {
  const t = compact(tag.getText(sf));
  return t.length > 60 ? calleeText(tag, sf) : t;
}

/** The last name of a receiver chain: `db` for `this.db`, `pool` for `pool`, `getPool` for `getPool()`. */
function lastSegment(e: ts.Expression): string | undefined {
  const r = skipParens(e);
  if (ts.isIdentifier(r)) return r.text;
  if (ts.isPropertyAccessExpression(r)) return r.name.text;
  if (r.kind === ts.SyntaxKind.ThisKeyword) return 'this';
  if (ts.isAwaitExpression(r)) return lastSegment(r.expression);
  return undefined;
}

/** BEGIN / COMMIT / ROLLBACK / SAVEPOINT alone: the call manages a transaction rather than running a statement. */
function transactionRole(text: string, dialect: Dialect): TxRole | undefined {
  const kw = leadingKeyword(text);
  if (!kw || !TX_KEYWORDS.has(kw)) return undefined;
  if (!isSqlText(text, 'driver', dialect)) return undefined;
  const stripped = text.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, '').trim().replace(/;\s*$/, '');
  if (stripped.includes(';')) return undefined;
  switch (kw) {
    case 'BEGIN': case 'START':
      return 'begin';
    case 'COMMIT': case 'END':
      return 'end';
    case 'ROLLBACK':
      return /\bTO\b/i.test(stripped) ? 'savepoint' : 'end';
    default:
      return 'savepoint';
  }
}

/** `BEGIN; INSERT ...; COMMIT;` in one `exec`: a script, reported as raw SQL. */
function isScriptWithTransaction(text: string, confidence: 'driver' | 'unknown', dialect: Dialect): boolean {
  if (confidence !== 'driver') return false;
  const m = /^\s*(BEGIN|START\s+TRANSACTION)\b[^;]*;/i.exec(text);
  if (!m) return false;
  const rest = text.slice(m[0].length);
  return isSqlText(rest, 'driver', dialect);
}

/** A tagged template used as a `${}` fragment of another `sql` tagged template. */
function isNestedInSqlTag(t: ts.TaggedTemplateExpression, rec: Recoverer): boolean {
  let p: ts.Node | undefined = t.parent;
  for (let k = 0; p && k < 12; k++, p = p.parent) {
    if (ts.isTemplateSpan(p) && p.parent && ts.isTemplateExpression(p.parent) && p.parent.parent && ts.isTaggedTemplateExpression(p.parent.parent)) {
      if (rec.tagInfo(p.parent.parent.tag)) return true;
    }
    if (ts.isStatement(p) || ts.isFunctionLike(p)) return false;
  }
  return false;
}

/**
 * Driver-specific parameter syntax the SQL analyser does not know, rewritten to a form it does:
 * pg-promise `${name}` / `$(name)` / `$<name>` → `:name` (`:raw` / `^` → runtime text);
 * mysql2 and knex `??` identifier bindings → an identifier placeholder.
 */
function normaliseDriverParams(sql: RecoveredSql, driver: string): RecoveredSql {
  let text = sql.text;
  const dynamicParts = [...sql.dynamicParts];
  let dynamic = sql.dynamic;
  // Runtime text gets the next number after the recovered parts; escaped identifiers get 0.
  const ident = dynamicPlaceholder(0);
  const nextDynamic = (source: string): string => {
    dynamic = true;
    dynamicParts.push(source);
    return dynamicPlaceholder(dynamicParts.length);
  };
  if (driver === 'pg-promise') {
    const re = /\$(?:\{([^}]*)\}|\(([^)]*)\)|<([^>]*)>|\[([^\]]*)\]|\/([^/]*)\/)/g;
    text = text.replace(re, (whole, a?: string, b?: string, c?: string, d?: string, e?: string) => {
      const inner = (a ?? b ?? c ?? d ?? e ?? '').trim();
      const m = /^([A-Za-z_$][\w$.]*|this)\s*(\^|~|#|:raw|:value|:name|:alias|:csv|:list|:json)?$/.exec(inner);
      if (!m) return whole;
      const mod = m[2];
      if (mod === '^' || mod === ':raw' || mod === '#' || mod === ':value') return nextDynamic(whole);
      if (mod === '~' || mod === ':name' || mod === ':alias') return ident;
      return ':' + m[1].replace(/[.$]/g, '_');
    });
    // numbered parameters with filters: $1:csv, $1:raw, $1^, $1:name, $1~
    text = text.replace(/\$(\d+)(\^|~|#|:raw|:value|:name|:alias|:csv|:list|:json)/g, (whole, num: string, mod: string) => {
      if (mod === '^' || mod === ':raw' || mod === '#' || mod === ':value') return nextDynamic(whole);
      if (mod === '~' || mod === ':name' || mod === ':alias') return ident;
      return '$' + num;
    });
  } else if (driver === 'mysql2' || driver === 'knex') {
    if (text.includes('??') || /:\w+:/.test(text)) {
      const lexed = lexSql(text);
      // rewrite `??` outside strings: find consecutive question placeholders
      const qs = lexed.placeholders.filter((p) => p.style === 'question');
      let out = '';
      let last = 0;
      for (let k = 0; k < qs.length; k++) {
        const p = qs[k];
        if (k + 1 < qs.length && qs[k + 1].start === p.end) {
          out += text.slice(last, p.start) + ident;
          last = qs[k + 1].end;
          k++;
        }
      }
      text = out + text.slice(last);
      if (driver === 'knex') text = text.replace(/(^|[^:\w]):(\w+):(?!:)/g, (_w, pre: string) => `${pre}${ident}`);
    }
    if (driver === 'mysql2') {
      // mysql's value expansion: `INSERT ... VALUES ?` (nested arrays), `INSERT INTO t SET ?` (an object)
      text = text
        .replace(/(?:\(([^()]*)\)\s*)?\bVALUES\s+\?(?=\s*(?:;|$|ON\b|AS\b))/gi, (_w, cols?: string) =>
          `${cols !== undefined ? `(${cols}) ` : ''}VALUES (${Array.from({ length: cols ? cols.split(',').length : 1 }, () => '?').join(', ')})`)
        .replace(/\bSET\s+\?(?=\s*(?:;|$|WHERE\b|ON\b))/gi, () => `SET ${ident} = ?`);
    }
  }
  if (text === sql.text) return sql;
  return { ...sql, text, dynamic, dynamicParts };
}

/**
 * `$1::date` → `($1)::date`: the SQL parser rejects a cast on a placeholder inside an
 * expression (`WHERE d < $1::date`) but accepts it parenthesised. Workaround until the
 * analyser's placeholder normalisation does it.
 */
function parenthesiseCastParams(sql: RecoveredSql, dialect: Dialect): RecoveredSql {
  if (dialect !== 'postgresql' || !/\$\d+\s*::/.test(sql.text)) return sql;
  const text = sql.text;
  let out = '';
  let last = 0;
  for (const p of lexSql(text).placeholders) {
    if (p.style !== 'dollar' || !/^\s*::/.test(text.slice(p.end, p.end + 8))) continue;
    out += text.slice(last, p.start) + '(' + text.slice(p.start, p.end) + ')';
    last = p.end;
  }
  return last === 0 ? sql : { ...sql, text: out + text.slice(last) };
}
