/**
 * SQLAlchemy 1.x `session.query(...)` chains → 2.0 `select()` style, verified before offered
 * (issue #5). The same shape as the Knex rewrite (../index.ts): text and a finding in, code
 * actions (plain edits) out; no LSP, no file writes.
 *
 *   await initSqlalchemyRewrite();       // once: the tree-sitter Python grammar (analyzeText does it too)
 *   sqlalchemyRewriteActions(text, 'app/jobs.py', finding)
 *     → [{ title: 'Rewrite in SQLAlchemy 2.0 style', preferred: true, verified: true, edits, target: 'sqlalchemy2' }]
 *   sqlalchemyFixAll(text, fileName, findings)      → verified, non-overlapping edits (one import edit)
 *   whyNoSqlalchemyRewrite(finding, text, fileName) → the hover's reason, or undefined
 *
 * Pipeline per finding: plan.ts (the chain's tree-sitter nodes → a plan of source texts) →
 * render.ts (plan → 2.0 text through templates/sqlalchemy2) → verify here: the rendered text
 * parses, reads back (plan.ts `planModern`) to the same plan, and the whole file with the edits
 * applied parses without errors. Equivalence of the two forms is proven by executing both with
 * SQLAlchemy 1.4 (test/python). Not offered ⇒ a reason, never a guess.
 */
import type { Node, Tree } from 'web-tree-sitter';
import { loadPython } from '../../detect/python/parser';
import type { Finding, Range } from '../../types';
import type { TextEdit } from '../callsite';
import { bindingsOf, importEdit, NAME_ORDER } from './imports';
import { isIterated, planKey, planLegacy, planModern, planStatementForm, type Plan } from './plan';
import { defaultSqlalchemyTemplates, namesFor, renderPlan, type Layout, type SqlalchemyTemplates } from './render';
import { applyTextEdits, cmp, overlaps, parse, pos, samePos, treeErrors } from './tree';
import { rewriteVariable } from './variable';

export { applyTextEdits } from './tree';

export type { Plan } from './plan';
export { SQLALCHEMY_TEMPLATE_NAMES, defaultSqlalchemyTemplateDir, defaultSqlalchemyTemplates, type SqlalchemyTemplates } from './render';
export { TO_THREAD_TITLE, initToThreadRewrite, toThreadFixAll, toThreadRewriteActions, type ToThreadAction, type ToThreadFixAllResult, type ToThreadOptions } from './toThread';

export const SQLALCHEMY_TITLE = 'Rewrite in SQLAlchemy 2.0 style';

export interface SqlalchemyRewriteOptions {
  /** Templates (default: the shipped `templates/sqlalchemy2`). */
  templates?: SqlalchemyTemplates;
}

export interface SqlalchemyRewriteAction {
  title: string;
  kind: 'quickfix';
  preferred: boolean;
  verified: boolean;
  /** Zero-based, non-overlapping; empty when not offered. */
  edits: TextEdit[];
  reasonNotOffered?: string;
  target: 'sqlalchemy2';
  /** The 2.0 expression that replaces the chain (when offered). */
  rendered?: string;
}

/** Loads the tree-sitter Python grammar (idempotent). */
export async function initSqlalchemyRewrite(): Promise<void> {
  await loadPython();
}

function notOffered(reason: string): SqlalchemyRewriteAction {
  return { title: SQLALCHEMY_TITLE, kind: 'quickfix', preferred: false, verified: false, edits: [], reasonNotOffered: reason, target: 'sqlalchemy2' };
}

function findingReason(finding: Finding): string | undefined {
  if (finding.rule !== 'session-legacy-query') return 'only session-legacy-query findings are rewritten to SQLAlchemy 2.0';
  if (finding.language !== 'python') return 'SQLAlchemy rewrites apply to Python';
  if (finding.exception) return `kept on purpose: ${finding.exception.reason}`;
  return undefined;
}

/** The call node the finding's range covers exactly. */
function chainNode(tree: Tree, range: Range): Node | undefined {
  const start = { row: range.start.line, column: range.start.character };
  const end = { row: range.end.line, column: range.end.character };
  let n: Node | null = tree.rootNode.descendantForPosition(start, end);
  while (n) {
    if (n.type === 'call' && samePos(n.startPosition, range.start) && samePos(n.endPosition, range.end)) return n;
    n = n.parent;
  }
  return undefined;
}

function hasComment(n: Node): boolean {
  const stack: Node[] = [n];
  while (stack.length) {
    const c = stack.pop()!;
    if (c.type === 'comment') return true;
    for (let i = 0; i < c.namedChildCount; i++) {
      const k = c.namedChild(i);
      if (k) stack.push(k);
    }
  }
  return false;
}

function layoutOf(text: string, top: Node): Layout {
  const lineStart = text.lastIndexOf('\n', top.startIndex - 1) + 1;
  const outer = /^[ \t]*/.exec(text.slice(lineStart, top.startIndex))![0];
  let n = top;
  while (n.parent && n.parent.type === 'parenthesized_expression') n = n.parent;
  const enclosed = n.id !== top.id || ['argument_list', 'list', 'tuple', 'set', 'dictionary', 'pair', 'subscript'].includes(top.parent?.type ?? '');
  return { multiline: top.startPosition.row !== top.endPosition.row, enclosed, outer, discarded: n.parent?.type === 'expression_statement', source: text };
}

/** Parses the rendered expression on its own and reads it back into a plan. */
function roundTrip(rendered: string, plan: Plan): string | undefined {
  const probe = parse(`__sqlmigrate__ = (\n${rendered}\n)\n`);
  if ('reason' in probe) return probe.reason;
  try {
    if (treeErrors(probe)) return 'the rendered text does not parse as one Python expression';
    const assign = probe.rootNode.namedChild(0)?.namedChild(0);
    const right = assign?.childForFieldName('right');
    if (!right) return 'the rendered text is not one expression';
    const back = plan.terminal === 'subquery' || plan.terminal === 'embedded' ? planStatementForm(right, plan.terminal) : planModern(right);
    if (!back.ok) return `the rendered text does not read back: ${back.reason}`;
    if (planKey(back.plan) !== planKey(plan)) return 'the rendered text reads back to a different query';
    return undefined;
  } finally {
    probe.delete();
  }
}

interface Prepared {
  /** The chain's own edits (a query built in a variable has several). */
  edits: TextEdit[];
  names: string[];
  rendered: string;
}

function probeParse(t: string): { root: Node; done: () => void; errors: boolean } | { reason: string } {
  const tree = parse(t);
  if ('reason' in tree) return tree;
  return { root: tree.rootNode, done: () => tree.delete(), errors: treeErrors(tree) > 0 };
}

/**
 * The Flask-SQLAlchemy extension's name: a module-level `db = SQLAlchemy(...)`, or an imported
 * name the module uses as `<name>.Model` / `<name>.session`.
 */
export function flaskDbName(tree: Tree): string | undefined {
  const root = tree.rootNode;
  const imported = new Set<string>();
  for (let i = 0; i < root.namedChildCount; i++) {
    const st = root.namedChild(i);
    if (!st) continue;
    if (st.type === 'expression_statement') {
      const a = st.namedChild(0);
      const left = a?.type === 'assignment' ? a.childForFieldName('left') : null;
      const right = a?.type === 'assignment' ? a.childForFieldName('right') : null;
      if (left?.type === 'identifier' && right?.type === 'call' && /(^|\.)SQLAlchemy$/.test(right.childForFieldName('function')?.text ?? '')) return left.text;
    } else if (st.type === 'import_from_statement') {
      for (const c of st.namedChildren) {
        if (!c || c.id === st.childForFieldName('module_name')?.id) continue;
        const local = c.type === 'aliased_import' ? c.childForFieldName('alias')?.text : c.type === 'dotted_name' ? c.text : undefined;
        if (local && /^[a-z_]\w*$/.test(local)) imported.add(local);
      }
    }
  }
  for (const name of imported) if (new RegExp(`\\b${name}\\.(Model|session)\\b`).test(root.text)) return name;
  return undefined;
}

const flaskNames = new WeakMap<Tree, string | undefined>();

function prepareOne(tree: Tree, text: string, finding: Finding, templates: SqlalchemyTemplates): Prepared | { reason: string } {
  const r = findingReason(finding);
  if (r) return { reason: r };
  const top = chainNode(tree, finding.range);
  if (!top) return { reason: 'the chain was not found at the finding (the text changed?)' };
  if (top.hasError) return { reason: 'the chain contains a syntax error' };
  if (hasComment(top)) return { reason: 'a comment inside the chain would be lost; move it above the statement' };
  let flaskDb = flaskNames.has(tree) ? flaskNames.get(tree) : flaskDbName(tree);
  flaskNames.set(tree, flaskDb);
  let flaskBlocked: string | undefined;
  if (flaskDb) {
    // `Model.query` → `db.session`: `db` must be the module's, not a parameter or local here.
    for (let f = top.parent; f; f = f.parent) {
      if ((f.type === 'function_definition' || f.type === 'lambda') && bindingsOf(f, flaskDb).length) {
        flaskBlocked = `Flask-SQLAlchemy \`Model.query\`: \`${flaskDb}\` is bound locally here, so \`${flaskDb}.session\` would not be the extension's session`;
        flaskDb = undefined;
        break;
      }
    }
  }
  const context = { flaskDb, flaskBlocked };
  const planned = planLegacy(top, context);
  if (!planned.ok) {
    // `q = session.query(X)…` finished elsewhere in the function.
    let wrapped: Node = top;
    while (wrapped.parent?.type === 'parenthesized_expression') wrapped = wrapped.parent;
    if (/not a terminal/.test(planned.reason) && wrapped.parent?.type === 'assignment') {
      const v = rewriteVariable(top, text, context, templates, probeParse);
      if ('reason' in v) return { reason: v.reason === 'not an open query' ? planned.reason : `${v.reason} (the query is built in a variable)` };
      return { edits: v.edits, names: v.names, rendered: v.rendered.join('\n…\n') };
    }
    return { reason: planned.reason };
  }
  const plan = planned.plan;
  if (plan.terminal === 'iterate' && !isIterated(top)) return { reason: 'the chain is not a terminal call' };
  let rendered: string;
  try {
    rendered = renderPlan(plan, layoutOf(text, top), templates);
  } catch (e) {
    return { reason: `the template failed: ${(e as Error).message}` };
  }
  const why = roundTrip(rendered, plan);
  if (why) return { reason: `not verified: ${why}` };
  return { rendered, names: namesFor(plan), edits: [{ range: { start: pos(top.startPosition), end: pos(top.endPosition) }, newText: rendered }] };
}

function sortEdits(edits: TextEdit[]): TextEdit[] {
  return [...edits].sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character);
}

/** The file with the edits applied parses with tree-sitter-python without errors. */
function fileParses(text: string, edits: TextEdit[]): string | undefined {
  let next: string;
  try {
    next = applyTextEdits(text, edits);
  } catch (e) {
    return `the edits could not be applied: ${(e as Error).message}`;
  }
  const t = parse(next);
  if ('reason' in t) return t.reason;
  try {
    return treeErrors(t) ? 'the rewritten file would not parse' : undefined;
  } finally {
    t.delete();
  }
}

/** The code action for one `session-legacy-query` finding: offered only when verified, else with the reason. */
export function sqlalchemyRewriteActions(text: string, fileName: string, finding: Finding, options: SqlalchemyRewriteOptions = {}): SqlalchemyRewriteAction[] {
  void fileName;
  const early = findingReason(finding);
  if (early) return [notOffered(early)];
  const tree = parse(text);
  if ('reason' in tree) return [notOffered(tree.reason)];
  try {
    const templates = options.templates ?? defaultSqlalchemyTemplates();
    const p = prepareOne(tree, text, finding, templates);
    if ('reason' in p) return [notOffered(p.reason)];
    const imp = importEdit(tree, p.names, templates);
    if ('reason' in imp) return [notOffered(imp.reason)];
    const edits = sortEdits(imp.edit ? [...p.edits, imp.edit] : p.edits);
    const bad = fileParses(text, edits);
    if (bad) return [notOffered(`not verified: ${bad}`)];
    return [{ title: SQLALCHEMY_TITLE, kind: 'quickfix', preferred: true, verified: true, edits, target: 'sqlalchemy2', rendered: p.rendered }];
  } catch (e) {
    return [notOffered(`internal error: ${(e as Error).message}`)];
  } finally {
    tree.delete();
  }
}

/** Why the 2.0 rewrite is not offered for this finding (undefined when it is). */
export function whyNoSqlalchemyRewrite(finding: Finding, text?: string, fileName?: string, options: SqlalchemyRewriteOptions = {}): string | undefined {
  const r = findingReason(finding);
  if (r) return r;
  if (text === undefined) return undefined;
  const a = sqlalchemyRewriteActions(text, fileName ?? 'file.py', finding, options)[0];
  return a.verified ? undefined : a.reasonNotOffered;
}

export interface SqlalchemyFixAllResult {
  edits: TextEdit[];
  applied: Array<{ finding: Finding; target: 'sqlalchemy2' }>;
  skipped: Array<{ finding: Finding; reason: string }>;
}

/**
 * Every verified rewrite in a file as one set of non-overlapping edits; a chain nested in
 * another rewritten chain is skipped with a reason (run again to pick it up). One import edit
 * for all the names needed.
 */
export function sqlalchemyFixAll(text: string, fileName: string, findings: Finding[], options: SqlalchemyRewriteOptions = {}): SqlalchemyFixAllResult {
  void fileName;
  const out: SqlalchemyFixAllResult = { edits: [], applied: [], skipped: [] };
  const relevant = findings.filter((f) => f.rule === 'session-legacy-query');
  if (!relevant.length) return out;
  const tree = parse(text);
  if ('reason' in tree) {
    for (const f of relevant) out.skipped.push({ finding: f, reason: tree.reason });
    return out;
  }
  try {
    const templates = options.templates ?? defaultSqlalchemyTemplates();
    // Outer chains first: a chain nested in another's arguments waits for the next run.
    const ordered = [...relevant].sort((a, b) => cmp(a.range.start, b.range.start) || cmp(b.range.end, a.range.end));
    const names = new Set<string>();
    const chosen: Array<{ finding: Finding; p: Prepared }> = [];
    for (const f of ordered) {
      let p: Prepared | { reason: string };
      try {
        p = prepareOne(tree, text, f, templates);
      } catch (e) {
        p = { reason: `internal error: ${(e as Error).message}` };
      }
      if ('reason' in p) {
        out.skipped.push({ finding: f, reason: p.reason });
        continue;
      }
      const own = p.edits;
      if (chosen.some((c) => c.p.edits.some((e) => own.some((o) => overlaps(e.range, o.range))))) {
        out.skipped.push({ finding: f, reason: 'it sits inside another rewritten chain; run fix again' });
        continue;
      }
      chosen.push({ finding: f, p });
    }
    for (const c of chosen) for (const n of c.p.names) names.add(n);
    const imp = importEdit(tree, NAME_ORDER.filter((n) => names.has(n)), templates);
    if ('reason' in imp) {
      // Rewrites that need no import (session.get) still apply.
      for (const c of chosen) {
        if (c.p.names.length) out.skipped.push({ finding: c.finding, reason: imp.reason });
        else {
          out.edits.push(...c.p.edits);
          out.applied.push({ finding: c.finding, target: 'sqlalchemy2' });
        }
      }
    } else {
      for (const c of chosen) {
        out.edits.push(...c.p.edits);
        out.applied.push({ finding: c.finding, target: 'sqlalchemy2' });
      }
      if (imp.edit && out.applied.length) out.edits.push(imp.edit);
    }
    out.edits = sortEdits(out.edits);
    const bad = out.edits.length ? fileParses(text, out.edits) : undefined;
    if (bad) {
      for (const a of out.applied) out.skipped.push({ finding: a.finding, reason: `not verified: ${bad}` });
      out.applied = [];
      out.edits = [];
    }
    return out;
  } catch (e) {
    // Never a throw for bad input: every finding not yet skipped is skipped with the reason.
    const skipped = new Set(out.skipped.map((x) => x.finding));
    return { edits: [], applied: [], skipped: [...out.skipped, ...relevant.filter((f) => !skipped.has(f)).map((f) => ({ finding: f, reason: `internal error: ${(e as Error).message}` }))] };
  } finally {
    tree.delete();
  }
}

/** The text parses with tree-sitter-python without errors (false when the parser is not loaded). */
export function pythonParses(text: string): boolean {
  const t = parse(text);
  if ('reason' in t) return false;
  try {
    return treeErrors(t) === 0;
  } finally {
    t.delete();
  }
}

/** The Knex API's names, for callers that take any rewrite engine by shape (see ../index.ts). */
export const rewriteActions = sqlalchemyRewriteActions;
export const fixAll = sqlalchemyFixAll;
export const whyNoRewrite = whyNoSqlalchemyRewrite;
export const applyEdits = applyTextEdits;

