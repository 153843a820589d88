/**
 * Raw SQL call sites → a SQLAlchemy 2.0 repository method (issue #5), verified before offered.
 * Text, findings and the workspace's files (read through `readFile`) in; call-site edits and the
 * repository file's new text out; no I/O.
 *
 *   with get_db() as conn, conn.cursor() as cur:          with get_session() as session:
 *       cur.execute(                                  →        return JobRepository(session).get_by_id(job_id)
 *           "SELECT id, name FROM jobs WHERE id = %s",
 *           (job_id,))
 *       return cur.fetchone()
 *
 *   repositories/job_repository.py (created, or the method appended; reused when a method with
 *   the same `sql:` fingerprint is already there):
 *       class JobRepository:
 *           def __init__(self, session: Session): ...
 *           def get_by_id(self, job_id):
 *               """sql: SELECT id, name FROM jobs WHERE id = ? | one"""
 *               stmt = (
 *                   select(Job.id, Job.name)
 *                   .where(Job.id == job_id)
 *               )
 *               return self.session.execute(stmt).first()
 *
 * Pipeline per finding: callsiteShape.ts (the `with` block, the execute, its read, commit, how the
 * result is used afterwards) → ../plan.ts (the SQL) → repoPlan.ts (core plan over the mapped
 * class, method name, fingerprint, render through templates/repository-py, read back) → here:
 * the repository file (create / append / reuse), the call site through `callsite.liquid`, the
 * imports, and verification: the rendered method reads back to the same core plan (in the
 * repository file as written, too), the rewritten call passes exactly the original bind
 * expressions in order, and both files parse. Equivalence is proven by executing both forms in
 * the python tier (test/python/repository.test.ts).
 */
import type { Node, Tree } from 'web-tree-sitter';
import { dialectForDriver } from '../../detect/common';
import type { Dialect, Finding } from '../../types';
import { placeholderKeys, planSql } from '../plan';
import { pythonModuleIn, type FileChange, type PythonModel, type RepositoryAction, type RepositoryConfig, type RepositoryMethod, type TextEdit } from '../repositoryTypes';
import { callAt, cursorRowStyle, factoryOrigin, factoryRowStyle, recogniseCallSite, referencesOf, unparen, usesOfVariable, type CallSite, type RowStyle } from './callsiteShape';
import { recogniseDynamicUpdate, type DynamicUpdate } from './callsiteDynamicUpdate';
import { bindingsOf, statementLineEnd } from './imports';
import { coreKey, corePlan, defaultPythonRepositoryTemplates, engineFor, fingerprintOf, methodBaseName, readMethod, readRenderedMethod, renderMethod, repositoryClassName, singular, type CorePlan, type PythonRepositoryTemplates, type Read } from './repoPlan';
import { applyTextEdits, cmp, overlaps, parse, pos, treeErrors } from './tree';

export { PY_REPOSITORY_TEMPLATE_NAMES, defaultPythonRepositoryTemplates, type PythonRepositoryTemplates } from './repoPlan';

export interface PythonRepositoryOptions {
  config: RepositoryConfig['python'];
  /** Mapped classes known in the workspace. */
  models: PythonModel[];
  /** Current text of a workspace file ('/'-separated, workspace-relative); undefined = absent. */
  readFile: (rel: string) => string | undefined;
  templates?: PythonRepositoryTemplates;
}

export interface PythonRepositoryFixAll {
  edits: TextEdit[];
  files: FileChange[];
  applied: Array<{ finding: Finding; method: RepositoryMethod }>;
  skipped: Array<{ finding: Finding; reason: string }>;
}

const TITLE = 'Move to a repository method (SQLAlchemy 2.0)';

function notOffered(reason: string): RepositoryAction {
  return { title: TITLE, kind: 'quickfix', preferred: false, verified: false, edits: [], files: [], reasonNotOffered: reason, target: 'repository' };
}

function findingReason(finding: Finding, options: PythonRepositoryOptions): string | undefined {
  if (finding.rule !== 'raw-sql') return 'only raw-sql findings move to a repository';
  if (finding.language !== 'python') return 'the SQLAlchemy repository applies to Python';
  if (finding.exception) return `kept on purpose: ${finding.exception.reason}`;
  if (!finding.sql || !finding.info) return 'the SQL text was not recovered';
  if (finding.sql.dynamic && !isDynamicSetList(finding)) return 'part of the SQL text is built at run time; rewrite it by hand (values can become bindings, identifiers need a whitelist)';
  if (finding.info.statementCount > 1) return 'the text holds several statements';
  if (!['select', 'insert', 'update', 'delete'].includes(finding.info.kind)) return `${finding.info.kind === 'ddl' ? 'DDL' : 'this statement'} has no repository method form`;
  if (!options.config.session) return 'no session factory is configured: set `rewrite.repository.python.session` (and `sessionModule`) in .sqlmigrate.json to the callable that returns a context-managed Session';
  return undefined;
}

/** The one run-time part is `', '.join(<list>)` in an UPDATE: maybe the dynamic SET list shape. */
function isDynamicSetList(finding: Finding): boolean {
  const parts = finding.sql?.dynamicParts ?? [];
  return finding.info?.kind === 'update' && parts.length === 1 && /^\s*["'],?\s*["']\.join\(\s*[A-Za-z_]\w*\s*\)\s*$/.test(parts[0]);
}

/** Files changed so far in one run (fix-all accumulates the repository files). */
type Overlay = Map<string, { before: string | undefined; after: string }>;

interface Prepared {
  /** The `with` block's replacement. */
  edit: TextEdit;
  imports: Array<{ module: string; name: string }>;
  method: RepositoryMethod;
  /** The repository file's new text (undefined: reused, unchanged). */
  repoAfter?: string;
  repoBefore?: string;
  /** For verification of the whole call-site file. */
  expectArgs: string[];
  className: string;
}

type Fail = { reason: string };

function repositoryFile(config: RepositoryConfig['python'], table: string): string {
  const dir = config.dir.replace(/\\/g, '/').replace(/^\.\/?/, '').replace(/\/+$/, '');
  return `${dir ? `${dir}/` : ''}${singular(table)}_repository.py`;
}

function sqlLiteralOrName(n: Node): boolean {
  const x = unparen(n);
  return x.type === 'string' || x.type === 'concatenated_string' || x.type === 'identifier';
}

function hasCall(n: Node): boolean {
  const stack = [n];
  while (stack.length) {
    const c = stack.pop()!;
    if (c.type === 'call' || c.type === 'await' || c.type === 'named_expression' || c.type === 'yield' || c.type === 'lambda') return true;
    for (let i = 0; i < c.namedChildCount; i++) {
      const k = c.namedChild(i);
      if (k) stack.push(k);
    }
  }
  return false;
}

/** The original bind expressions, in the order of the statement's parameter keys. */
function bindArguments(site: CallSite, sql: string, keys: string[]): string[] | Fail {
  const occ = placeholderKeys(sql);
  const positional = occ.every((o) => /^\d+$/.test(o.key));
  if (!positional && occ.some((o) => /^\d+$/.test(o.key))) return { reason: 'positional and named placeholders mixed' };
  if (!site.paramsArg) return occ.length ? { reason: 'placeholders without parameters' } : [];
  const p = unparen(site.paramsArg);
  let texts: string[];
  let nodes: Node[];
  if (positional) {
    if (p.type !== 'tuple' && p.type !== 'list') return { reason: `the parameters are passed as \`${p.text.slice(0, 60)}\`, not as a literal tuple or list: cannot see each value` };
    nodes = p.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment');
    if (nodes.some((n) => n.type === 'list_splat' || n.type === 'parenthesized_list_splat')) return { reason: 'unpacked parameters (`*args`)' };
    if (nodes.length !== occ.length) return { reason: `${nodes.length} parameters for ${occ.length} placeholders` };
    texts = keys.map((k) => nodes[Number(k) - 1].text);
  } else {
    if (p.type !== 'dictionary') return { reason: `the named parameters are passed as \`${p.text.slice(0, 60)}\`, not as a literal dict: cannot see each value` };
    const pairs = p.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment');
    const byKey = new Map<string, Node>();
    const order: string[] = [];
    for (const pair of pairs) {
      if (pair.type !== 'pair') return { reason: 'an unpacked dict (`**x`) among the parameters' };
      const k = unparen(pair.childForFieldName('key')!);
      const m = /^["']([A-Za-z_]\w*)["']$/.exec(k.text);
      if (k.type !== 'string' || !m) return { reason: `the parameter key \`${k.text}\` is not a plain string` };
      if (byKey.has(m[1])) return { reason: `the parameter ${m[1]} is given twice` };
      byKey.set(m[1], pair.childForFieldName('value')!);
      order.push(m[1]);
    }
    const missing = keys.filter((k) => !byKey.has(k));
    if (missing.length) return { reason: `no value for the placeholder ${missing[0]}` };
    const extra = order.filter((k) => !keys.includes(k));
    if (extra.length && extra.some((k) => hasCall(byKey.get(k)!))) return { reason: `the unused parameter ${extra[0]} is computed by a call that would no longer run` };
    const used = order.filter((k) => keys.includes(k));
    if (used.join(',') !== keys.join(',') && keys.some((k) => hasCall(byKey.get(k)!))) return { reason: 'the parameters would be evaluated in another order, and one of them calls a function' };
    nodes = keys.map((k) => byKey.get(k)!);
    texts = nodes.map((n) => n.text);
  }
  for (const n of nodes) {
    for (const name of [site.conn, site.cur, 'session'].filter((x): x is string => !!x)) {
      if (referencesOf(n, name).length) return { reason: `the parameter \`${n.text}\` uses \`${name}\`, which the rewritten block does not have` };
    }
  }
  return texts;
}

/** Decides how the method hands back rows, from the cursor and how the result is used. */
function decideRead(site: CallSite, tree: Tree, fileName: string, options: PythonRepositoryOptions): Read | Fail {
  if (site.read !== 'one' && site.read !== 'all') return site.read;
  const isList = site.read === 'all';
  let style: RowStyle;
  const byCursor = cursorRowStyle(site.cursorCall);
  if (byCursor && typeof byCursor === 'object') return byCursor;
  if (byCursor) style = byCursor;
  else {
    const origin = factoryOrigin(tree, site.ctxName.split('.')[0] === site.ctxName ? site.ctxName : '');
    let source: string | undefined;
    if (origin && 'source' in origin) source = origin.source;
    else if (origin) {
      const rel = origin.module.replace(/\./g, '/');
      const dir = fileName.includes('/') ? fileName.slice(0, fileName.lastIndexOf('/')) : '';
      // Absolute imports start at the package root (the folder on sys.path; the workspace root by default).
      const root = (options.config.packageRoot ?? '').replace(/\\/g, '/').replace(/^\.\/?/, '').replace(/\/+$/, '');
      const fromRoot = root ? [`${root}/${rel}.py`, `${root}/${rel}/__init__.py`] : [];
      const candidates = origin.level > 0 ? [`${dir ? `${dir}/` : ''}${rel}.py`, `${dir ? `${dir}/` : ''}${rel}/__init__.py`] : [...fromRoot, `${rel}.py`, `${rel}/__init__.py`, `${dir ? `${dir}/` : ''}${rel}.py`];
      for (const c of candidates) {
        source = options.readFile(c.replace(/^\/+/, ''));
        if (source !== undefined) break;
      }
    }
    style = factoryRowStyle(source);
  }
  let uses = { index: false, name: false, escape: false } as ReturnType<typeof usesOfVariable>;
  const t = site.target;
  if (t.kind === 'return') uses.escape = true;
  else if (t.kind === 'assign') uses = usesOfVariable(site.scope, t.name, t.node, isList);
  const what = t.kind === 'assign' ? `\`${t.name}\`` : 'the result';
  if (uses.unknown) return { reason: `${what} is used as \`${uses.unknown}\`, which has no known counterpart on SQLAlchemy rows` };
  const plain: Read = isList ? 'all' : 'one';
  const mappings: Read = isList ? 'mappings-all' : 'mappings-one';
  switch (style) {
    case 'dict':
      if (uses.index) return { reason: `${what} comes from a RealDictCursor and is read by position` };
      return mappings;
    case 'tuple':
      if (uses.name) return { reason: `${what} is read by column name, but the cursor returns tuples` };
      return plain;
    case 'sqlite-row':
    case 'unknown': {
      const factory = style === 'sqlite-row' ? 'the connection returns sqlite3.Row' : `cannot see how \`${site.ctxName}()\` sets up its rows (row_factory / cursor_factory)`;
      if (uses.index && uses.name) return { reason: `${what} is read both by position and by column name (${factory}); SQLAlchemy rows do one or the other` };
      if (uses.escape && (uses.name || style === 'sqlite-row' || style === 'unknown')) return { reason: `${what} leaves the function (${factory}): cannot tell whether callers read it by position or by column name` };
      return uses.name ? mappings : plain;
    }
  }
}

/** Top-level `from <module> import …` statements, and the names they import. */
function fromImports(tree: Tree, module: string): Array<{ node: Node; names: string[] }> {
  const out: Array<{ node: Node; names: string[] }> = [];
  for (const st of tree.rootNode.namedChildren) {
    if (st?.type !== 'import_from_statement') continue;
    const mod = st.childForFieldName('module_name');
    if (mod?.text !== module) continue;
    const names: string[] = [];
    for (const c of st.namedChildren) {
      if (!c || c.id === mod.id) continue;
      if (c.type === 'dotted_name') names.push(c.text);
      else if (c.type === 'aliased_import' && c.childForFieldName('name')?.text === c.childForFieldName('alias')?.text) names.push(c.childForFieldName('alias')!.text);
      else if (c.type === 'wildcard_import') names.push('*');
    }
    out.push({ node: st, names });
  }
  return out;
}

/** The edits that import `needs` (merged into existing `from m import …` lines, else new lines after the leading imports). */
function importEdits(tree: Tree, needs: Array<{ module: string; name: string }>, templates: PythonRepositoryTemplates): TextEdit[] | Fail {
  const byModule = new Map<string, string[]>();
  for (const n of needs) {
    const list = byModule.get(n.module) ?? [];
    if (!list.includes(n.name)) list.push(n.name);
    byModule.set(n.module, list);
  }
  const edits: TextEdit[] = [];
  const newLines: string[] = [];
  for (const [module, names] of byModule) {
    const existing = fromImports(tree, module);
    const missing = names.filter((n) => !existing.some((e) => e.names.includes(n)));
    for (const name of missing) {
      const b = bindingsOf(tree.rootNode, name);
      if (b.length) return { reason: `\`${name}\` already names something else in this file (line ${b[0].startPosition.row + 1}); the rewrite needs it from ${module}` };
      if (referencesOf(tree.rootNode, name).length) return { reason: `\`${name}\` is used in this file but not imported from ${module}` };
    }
    if (!missing.length) continue;
    const into = existing.find((e) => !e.names.includes('*'));
    if (into) {
      const items = into.node.namedChildren.filter((c): c is Node => !!c && c.id !== into.node.childForFieldName('module_name')?.id && (c.type === 'dotted_name' || c.type === 'aliased_import'));
      const last = items[items.length - 1];
      edits.push({ range: { start: pos(last.endPosition), end: pos(last.endPosition) }, newText: missing.map((m) => `, ${m}`).join('') });
    } else newLines.push(engineFor(templates).renderFileSync('import', { module, names: missing }).trim());
  }
  if (newLines.length) {
    const root = tree.rootNode;
    let lastImport: Node | undefined;
    let docstring: Node | undefined;
    for (let i = 0; i < root.namedChildCount; i++) {
      const st = root.namedChild(i)!;
      if (st.type === 'comment') continue;
      if (i === 0 && st.type === 'expression_statement' && st.namedChild(0)?.type === 'string') {
        docstring = st;
        continue;
      }
      if (st.type === 'import_statement' || st.type === 'import_from_statement' || st.type === 'future_import_statement') {
        lastImport = st;
        continue;
      }
      break;
    }
    const after = lastImport ?? docstring;
    const text = newLines.join('\n');
    if (after) edits.push({ range: { start: pos(statementLineEnd(after)), end: pos(statementLineEnd(after)) }, newText: `\n${lastImport ? '' : '\n'}${text}` });
    else edits.push({ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, newText: `${text}\n${root.namedChildCount ? '\n' : ''}` });
  }
  // Insertions at one position become one edit, merged names first, new lines after them.
  const out: TextEdit[] = [];
  for (const e of edits) {
    const same = out.find((o) => cmp(o.range.start, e.range.start) === 0 && cmp(o.range.end, e.range.end) === 0);
    if (same) same.newText += e.newText;
    else out.push({ ...e });
  }
  return out;
}

function classNode(tree: Tree, name: string): Node | undefined {
  for (const st of tree.rootNode.namedChildren) {
    if (st?.type === 'class_definition' && st.childForFieldName('name')?.text === name) return st;
  }
  return undefined;
}

function methodsOf(cls: Node): Node[] {
  const body = cls.childForFieldName('body');
  return (body?.namedChildren ?? []).filter((c): c is Node => !!c).map((c) => (c.type === 'decorated_definition' ? c.childForFieldName('definition') : c)).filter((c): c is Node => c?.type === 'function_definition');
}

const SQLA_ORDER = ['and_', 'delete', 'func', 'insert', 'or_', 'select', 'update'];

/** The repository file with the method (reused, appended, or a new file), verified by reading the method back there. */
function placeMethod(core: CorePlan, fp: string, model: PythonModel, file: string, before: string | undefined, templates: PythonRepositoryTemplates): { method: RepositoryMethod; after?: string } | Fail {
  const className = repositoryClassName(core.table);
  const key = coreKey(core, model);
  const base = methodBaseName(core);
  let taken: string[] = [];
  if (before !== undefined) {
    const tree = parse(before);
    if ('reason' in tree) return tree;
    try {
      if (treeErrors(tree)) return { reason: `${file} does not parse; fix it first` };
      const cls = classNode(tree, className);
      if (!cls) return { reason: `${file} exists but defines no class ${className}` };
      for (const m of methodsOf(cls)) {
        const r = readMethod(m, model);
        taken.push(r.name);
        if (r.fingerprint !== fp) continue;
        if (!r.core || coreKey(r.core, model) !== key) return { reason: `${className}.${r.name} carries this statement's fingerprint but no longer reads back to it${r.problem ? ` (${r.problem})` : ''}; fix or rename it` };
        return { method: { className, name: r.name, file, fingerprint: fp, reused: true } };
      }
    } finally {
      tree.delete();
    }
  }
  taken = [...taken, '__init__'];
  let name = base;
  for (let i = 2; taken.includes(name); i++) name = `${base}_${i}`;
  let rendered;
  try {
    rendered = renderMethod(core, name, fp, model, templates);
  } catch (e) {
    return { reason: `the template failed: ${(e as Error).message}` };
  }
  const back = readRenderedMethod(rendered.text, model);
  if ('reason' in back) return { reason: `not verified: ${back.reason}` };
  if (back.name !== name || back.fingerprint !== fp) return { reason: 'not verified: the rendered method has another name or fingerprint' };
  if (!back.core || coreKey(back.core, model) !== key) return { reason: `not verified: the rendered method reads back to a different statement${back.problem ? ` (${back.problem})` : ''}` };
  const sqlNames = SQLA_ORDER.filter((n) => rendered.names.includes(n));
  let after: string;
  if (before === undefined) {
    const imports = [`from sqlalchemy import ${sqlNames.join(', ')}`, 'from sqlalchemy.orm import Session', '', engineFor(templates).renderFileSync('import', { module: model.module, names: [model.className] }).trim()];
    const head = engineFor(templates).renderFileSync('file', { table: core.table, class_name: className, imports, model: model.className }).replace(/\s+$/, '');
    after = `${head}\n\n${rendered.text}\n`;
  } else {
    const tree = parse(before);
    if ('reason' in tree) return tree;
    try {
      const cls = classNode(tree, className)!;
      const imp = importEdits(tree, [...sqlNames.map((n) => ({ module: 'sqlalchemy', name: n })), { module: model.module, name: model.className }], templates);
      if ('reason' in imp) return { reason: `${file}: ${imp.reason}` };
      const end = pos(cls.endPosition);
      after = applyTextEdits(before, [...imp, { range: { start: end, end }, newText: `\n\n${rendered.text}` }]);
    } finally {
      tree.delete();
    }
  }
  // Read back from the file as written.
  const check = parse(after);
  if ('reason' in check) return check;
  try {
    if (treeErrors(check)) return { reason: `not verified: ${file} would not parse` };
    const cls = classNode(check, className);
    const m = cls ? methodsOf(cls).find((f) => f.childForFieldName('name')?.text === name) : undefined;
    const r = m ? readMethod(m, model) : undefined;
    if (!r?.core || coreKey(r.core, model) !== key) return { reason: `not verified: ${file} does not read back to the method` };
  } finally {
    check.delete();
  }
  return { method: { className, name, file, fingerprint: fp, reused: false }, after };
}

function indentOf(text: string, n: Node): string {
  const lineStart = text.lastIndexOf('\n', n.startIndex - 1) + 1;
  return /^[ \t]*/.exec(text.slice(lineStart, n.startIndex))![0];
}

function freeName(scope: Node, base: string): string {
  let n = base;
  for (let i = 2; referencesOf(scope, n).length; i++) n = `${base}_${i}`;
  return n;
}

function dialectOf(finding: Finding): Dialect {
  return dialectForDriver(finding.driver) ?? finding.info?.dialect ?? 'postgresql';
}

function prepare(tree: Tree, text: string, fileName: string, finding: Finding, options: PythonRepositoryOptions, overlay: Overlay, templates: PythonRepositoryTemplates): Prepared | Fail {
  const early = findingReason(finding, options);
  if (early) return { reason: early };
  const call = callAt(tree, finding.range);
  if (!call) return { reason: 'the execute() call was not found at the finding (the text changed?)' };
  if (call.hasError) return { reason: 'the call contains a syntax error' };
  const shape = recogniseCallSite(call);
  if (!shape.ok) return { reason: shape.reason };
  const site = shape.site;
  let dynamicUpdate: DynamicUpdate | undefined;
  if (finding.sql!.dynamic) {
    const d = recogniseDynamicUpdate(site);
    if ('reason' in d) return { reason: `a SET list built at run time, but not the recognised pattern: ${d.reason}` };
    dynamicUpdate = d;
  } else if (!sqlLiteralOrName(site.sqlArg)) return { reason: `the SQL argument \`${site.sqlArg.text.slice(0, 60)}\` is neither a string literal nor a name` };
  const sql = dynamicUpdate ? dynamicUpdate.sql : finding.sql!.text;
  const dialect = dialectOf(finding);
  if ((dialect === 'postgresql' || dialect === 'mysql') && sql.includes('%%')) return { reason: 'a literal %% in a format-style statement' };
  if (/\\|"""/.test(sql)) return { reason: 'the statement holds a backslash or triple quotes, which the method\'s `sql:` doc line cannot carry' };
  const planned = planSql(sql, dialect);
  if (!planned.ok) return { reason: planned.reason };
  const plan = planned.plan;
  const table = plan.table.name;
  const models = options.models.filter((m) => m.table.toLowerCase() === table.toLowerCase());
  if (!models.length) return { reason: `no mapped class for table "${table}" (Generate model from CREATE TABLE, or map one)` };
  if (models.length > 1) return { reason: `several mapped classes for table "${table}" (${models.map((m) => m.className).join(', ')})` };
  const model = models[0];
  const write = plan.kind !== 'select';
  if (write && !site.commit) return { reason: `cannot tell whether \`${site.ctxName}()\` commits when the block ends: add an explicit \`${site.conn}.commit()\` after the statement (the rewrite then calls \`session.commit()\`)` };
  if (plan.kind === 'select' && site.read === 'none') return { reason: 'a SELECT whose rows are never read' };
  if (plan.kind === 'select' && site.read === 'rowcount') return { reason: 'rowcount after a SELECT differs between drivers (sqlite3 gives -1)' };
  if (site.read === 'scalar') {
    const c = plan.kind === 'select' ? plan.columns : [];
    const oneAggregate = plan.kind === 'select' && c.length === 1 && c[0].kind === 'agg' && !plan.groupBy.length && !plan.having.length && !plan.limit && !plan.offset;
    const insertReturning = plan.kind === 'insert' && plan.rows.length === 1 && plan.returning?.length === 1 && plan.returning[0] !== '*' && !plan.conflict;
    if (!oneAggregate && !insertReturning) {
      return { reason: '`fetchone()[0]` on a statement that may return no row: `.scalar()` would give None where the original raises' };
    }
  }
  const read = decideRead(site, tree, fileName, options);
  if (typeof read === 'object') return read;
  const conv = corePlan(plan, planned.params, read, model, dialect);
  if (!conv.ok) return { reason: conv.reason };
  const core = conv.core;
  let args: string[] | Fail;
  if (dynamicUpdate) {
    const d = dynamicUpdate;
    if (plan.kind !== 'update' || plan.set.length !== d.optional.length || planned.params.length !== d.optional.length + d.where.length || plan.set.some((x) => x.value.kind !== 'param')) return { reason: 'the dynamic UPDATE does not plan to one parameter per SET item plus its WHERE values' };
    core.optional = true;
    args = [...d.optional, ...d.where];
    for (const a of args) if (a === 'session' || a === site.conn || a === site.cur) return { reason: `the value \`${a}\` is a name the rewritten block does not have` };
  } else args = bindArguments(site, sql, planned.params);
  if (!Array.isArray(args)) return args;
  if (args.some((a) => /\n/.test(a) && /["']{3}/.test(a))) return { reason: 'a parameter spans lines inside a triple-quoted string' };
  // The names the new block introduces.
  const session = options.config.session!;
  if (referencesOf(site.scope, 'session').length) return { reason: '`session` is already used in this function; the rewritten block binds it' };
  const fp = `${fingerprintOf(sql, read)}${core.optional ? ' | None leaves a SET item out' : ''}`;
  const file = repositoryFile(options.config, table);
  const prev = overlay.get(file);
  const before = prev ? prev.after : options.readFile(file);
  const placed = placeMethod(core, fp, model, file, before, templates);
  if ('reason' in placed) return placed;
  const className = placed.method.className;
  if (className === session || className === 'session') return { reason: `the repository class ${className} clashes with the session callable` };
  const callText = `${className}(session).${placed.method.name}(${args.join(', ')})`;
  const lines: string[] = [];
  const t = site.target;
  if (site.commit) {
    if (t.kind === 'return') {
      const tmp = freeName(site.scope, 'result');
      lines.push(`${tmp} = ${callText}`, 'session.commit()', `return ${tmp}`);
    } else {
      lines.push(t.kind === 'assign' ? `${t.name} = ${callText}` : callText, 'session.commit()');
    }
  } else lines.push(t.kind === 'return' ? `return ${callText}` : t.kind === 'assign' ? `${t.name} = ${callText}` : callText);
  const indent = indentOf(text, site.replace);
  let block: string;
  try {
    block = engineFor(templates).renderFileSync('callsite', { session, indent, lines, guard: dynamicUpdate?.guard ?? false }).replace(/\s+$/, '');
  } catch (e) {
    return { reason: `the template failed: ${(e as Error).message}` };
  }
  const sessionModule = options.config.sessionModule;
  const repoModule = pythonModuleIn(file, options.config.packageRoot);
  if (!repoModule) return { reason: `${file} cannot be imported as a module from ${options.config.packageRoot ? `rewrite.repository.python.packageRoot (${options.config.packageRoot})` : 'the workspace root'}: set rewrite.repository.python.dir (and packageRoot) to an importable package folder` };
  const imports = [{ module: repoModule, name: className }];
  if (sessionModule) imports.push({ module: sessionModule, name: session });
  else if (!bindingsOf(tree.rootNode, session).length) return { reason: `\`${session}\` is not defined or imported in this file: set \`rewrite.repository.python.sessionModule\`` };
  return {
    edit: { range: { start: pos((dynamicUpdate?.start ?? site.replace).startPosition), end: pos(site.replace.endPosition) }, newText: block },
    imports,
    method: placed.method,
    repoAfter: placed.after,
    repoBefore: before,
    expectArgs: args,
    className,
  };
}

/** The file with the edits applied parses, and each rewritten block calls its method with exactly the original arguments. */
function verifyCallSites(text: string, edits: TextEdit[], prepared: Prepared[], session: string): string | undefined {
  let next: string;
  try {
    next = applyTextEdits(text, edits);
  } catch (e) {
    return `the edits could not be applied: ${(e as Error).message}`;
  }
  const tree = parse(next);
  if ('reason' in tree) return tree.reason;
  try {
    if (treeErrors(tree)) return 'the rewritten file would not parse';
    // Every `Repo(session).method(...)` call in the new file, by method.
    const calls: Node[] = [];
    const stack: Node[] = [tree.rootNode];
    while (stack.length) {
      const n = stack.pop()!;
      if (n.type === 'call') calls.push(n);
      for (let i = 0; i < n.namedChildCount; i++) {
        const c = n.namedChild(i);
        if (c) stack.push(c);
      }
    }
    for (const p of prepared) {
      const want = `${p.className}(session).${p.method.name}`;
      const found = calls.filter((c) => c.childForFieldName('function')?.text === want);
      const match = found.some((c) => {
        const a = (c.childForFieldName('arguments')?.namedChildren ?? []).filter((x): x is Node => !!x);
        if (a.length !== p.expectArgs.length || !a.every((x, i) => x.text === p.expectArgs[i])) return false;
        // Inside `with <session>() as session:`.
        for (let w = c.parent; w; w = w.parent) {
          if (w.type === 'with_statement') return /^with\s+/.test(w.text) && w.text.includes(`${session}() as session:`);
        }
        return false;
      });
      if (!match) return `the rewritten call to ${want} does not pass exactly the original parameters`;
    }
    return undefined;
  } finally {
    tree.delete();
  }
}

function sortEdits(edits: TextEdit[]): TextEdit[] {
  return [...edits].sort((a, b) => cmp(a.range.start, b.range.start));
}

function titleOf(m: RepositoryMethod): string {
  return `Move to ${m.className}.${m.name}()${m.reused ? '' : ` (${m.file})`}`;
}

/** The repository action for one raw-sql finding: offered only when verified, else with the reason. */
export function pythonRepositoryActions(text: string, fileName: string, finding: Finding, options: PythonRepositoryOptions): RepositoryAction[] {
  try {
    const early = findingReason(finding, options);
    if (early) return [notOffered(early)];
    const tree = parse(text);
    if ('reason' in tree) return [notOffered(tree.reason)];
    try {
      const templates = options.templates ?? defaultPythonRepositoryTemplates();
      const p = prepare(tree, text, fileName, finding, options, new Map(), templates);
      if ('reason' in p) return [notOffered(p.reason)];
      const imp = importEdits(tree, p.imports, templates);
      if ('reason' in imp) return [notOffered(imp.reason)];
      const edits = sortEdits([p.edit, ...imp]);
      const bad = verifyCallSites(text, edits, [p], options.config.session!);
      if (bad) return [notOffered(`not verified: ${bad}`)];
      const files: FileChange[] = p.repoAfter !== undefined ? [{ file: p.method.file, before: p.repoBefore, after: p.repoAfter }] : [];
      return [{ title: titleOf(p.method), kind: 'quickfix', preferred: true, verified: true, edits, files, target: 'repository', method: p.method }];
    } finally {
      tree.delete();
    }
  } catch (e) {
    return [notOffered(`internal error: ${(e as Error).message}`)];
  }
}

/**
 * Every verified repository rewrite in a file: non-overlapping call-site edits (one set of
 * import edits) and the repository files with every new method, accumulated (a statement met
 * twice reuses the method the first one added).
 */
export function pythonRepositoryFixAll(text: string, fileName: string, findings: Finding[], options: PythonRepositoryOptions): PythonRepositoryFixAll {
  const out: PythonRepositoryFixAll = { edits: [], files: [], applied: [], skipped: [] };
  const relevant = findings.filter((f) => f.rule === 'raw-sql' && f.language === 'python');
  if (!relevant.length) return out;
  const tree = parse(text);
  if ('reason' in tree) {
    for (const f of relevant) out.skipped.push({ finding: f, reason: tree.reason });
    return out;
  }
  try {
    const templates = options.templates ?? defaultPythonRepositoryTemplates();
    const overlay: Overlay = new Map();
    const chosen: Array<{ finding: Finding; p: Prepared }> = [];
    const ordered = [...relevant].sort((a, b) => cmp(a.range.start, b.range.start));
    for (const f of ordered) {
      let p: Prepared | Fail;
      try {
        p = prepare(tree, text, fileName, f, options, overlay, templates);
      } catch (e) {
        p = { reason: `internal error: ${(e as Error).message}` };
      }
      if ('reason' in p) {
        out.skipped.push({ finding: f, reason: p.reason });
        continue;
      }
      const edit = p.edit;
      if (chosen.some((c) => overlaps(c.p.edit.range, edit.range))) {
        out.skipped.push({ finding: f, reason: 'another statement in the same block is rewritten' });
        continue;
      }
      chosen.push({ finding: f, p });
      if (p.repoAfter !== undefined) overlay.set(p.method.file, { before: overlay.has(p.method.file) ? overlay.get(p.method.file)!.before : p.repoBefore, after: p.repoAfter });
    }
    if (!chosen.length) return out;
    const imp = importEdits(tree, chosen.flatMap((c) => c.p.imports), templates);
    if ('reason' in imp) {
      for (const c of chosen) out.skipped.push({ finding: c.finding, reason: imp.reason });
      return out;
    }
    const edits = sortEdits([...chosen.map((c) => c.p.edit), ...imp]);
    const bad = verifyCallSites(text, edits, chosen.map((c) => c.p), options.config.session!);
    if (bad) {
      for (const c of chosen) out.skipped.push({ finding: c.finding, reason: `not verified: ${bad}` });
      return out;
    }
    out.edits = edits;
    out.files = [...overlay].map(([file, v]) => ({ file, before: v.before, after: v.after }));
    // Methods added by an earlier finding in this run and used again count as reused.
    const seen = new Set<string>();
    for (const c of chosen) {
      const k = `${c.p.method.file}#${c.p.method.name}`;
      out.applied.push({ finding: c.finding, method: seen.has(k) ? { ...c.p.method, reused: true } : c.p.method });
      seen.add(k);
    }
    return out;
  } catch (e) {
    const done = new Set(out.skipped.map((s) => s.finding));
    return { edits: [], files: [], applied: [], skipped: [...out.skipped, ...relevant.filter((f) => !done.has(f)).map((f) => ({ finding: f, reason: `internal error: ${(e as Error).message}` }))] };
  } finally {
    tree.delete();
  }
}
