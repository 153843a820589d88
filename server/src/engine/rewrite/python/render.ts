/**
 * Plan → SQLAlchemy 2.0 source text through the liquid templates of `templates/sqlalchemy2/`.
 * Rendering is data only (liquidjs, own properties only, templates handed in as strings, bounded);
 * every argument is the source text of the original chain, copied, never evaluated. Whatever a
 * template emits is parsed and read back into a plan before it is offered (index.ts).
 */
import { liquidFor, shippedTemplateDir, shippedTemplates } from '../templateSet';
import { countForm, OR_404, singleEntity, tailOf, type Plan } from './plan';

export const SQLALCHEMY_TEMPLATE_NAMES = ['statement', 'execute', 'select', 'count', 'delete', 'update', 'get', 'or_404', 'import', 'to_thread'] as const;
export type SqlalchemyTemplateName = (typeof SQLALCHEMY_TEMPLATE_NAMES)[number];
export type SqlalchemyTemplates = Record<SqlalchemyTemplateName, string>;

/** The directory holding the shipped `templates/sqlalchemy2/*.liquid` (found upwards from this module). */
export function defaultSqlalchemyTemplateDir(): string {
  return shippedTemplateDir('sqlalchemy2', 'statement');
}

export function defaultSqlalchemyTemplates(): SqlalchemyTemplates {
  return shippedTemplates('sqlalchemy2', SQLALCHEMY_TEMPLATE_NAMES);
}

const engineFor = (templates: SqlalchemyTemplates) => liquidFor(templates, SQLALCHEMY_TEMPLATE_NAMES);

export interface Layout {
  /** The original chain spans several lines. */
  multiline: boolean;
  /** The expression sits inside brackets (a read per line is valid). */
  enclosed: boolean;
  /** Indentation of the chain's first line. */
  outer: string;
  /** The value is thrown away (an expression statement): bulk statements skip `.rowcount`. */
  discarded?: boolean;
  /** The original text: arguments spanning lines are re-indented to where they land. */
  source?: string;
}

interface RenderStep {
  method: string;
  args: string;
}

/** The names the rewrite needs from `sqlalchemy`. */
export function namesFor(plan: Plan): string[] {
  switch (plan.terminal) {
    case 'get': return [];
    case 'get_or_404': return [];
    case 'delete': return ['delete'];
    case 'update': return ['update'];
    case 'count': return ['select', 'func'];
    default: return ['select'];
  }
}

type ArgText = { text: string; start?: number; multilineString?: boolean };

/** An argument's text with its continuation lines moved by the change of its line's indentation. */
function reindent(a: ArgText, newIndent: string, source: string | undefined): string {
  if (!a.text.includes('\n') || a.multilineString || source === undefined || a.start === undefined) return a.text;
  const lineStart = source.lastIndexOf('\n', a.start - 1) + 1;
  const oldIndent = /^[ \t]*/.exec(source.slice(lineStart, a.start))![0];
  if (/\t/.test(oldIndent + newIndent)) return a.text;
  const delta = newIndent.length - oldIndent.length;
  if (delta === 0) return a.text;
  const lines = a.text.split('\n');
  if (delta < 0 && lines.slice(1).some((l) => l.trim() && !l.startsWith(' '.repeat(-delta)))) return a.text;
  return [lines[0], ...lines.slice(1).map((l) => (!l.trim() ? l : delta > 0 ? ' '.repeat(delta) + l : l.slice(-delta)))].join('\n');
}

function joinArgs(args: ArgText[], newIndent = '', source?: string): string {
  return args.map((a) => reindent(a, newIndent, source)).join(', ');
}

/** The 2.0 expression that replaces the chain. */
export function renderPlan(plan: Plan, layout: Layout, templates: SqlalchemyTemplates = defaultSqlalchemyTemplates()): string {
  const engine = engineFor(templates);
  const session = plan.session.text;
  if (plan.terminal === 'get') {
    if (!singleEntity(plan)) throw new Error('get() needs one mapped class');
    const options = plan.steps.flatMap((s) => s.args);
    return engine.renderFileSync('get', { session, entity: plan.entities[0].text, ident: joinArgs(plan.terminalArgs, layout.outer, layout.source), options: options.length ? joinArgs(options, layout.outer, layout.source) : false }).trim();
  }
  if (OR_404.has(plan.terminal)) {
    // Flask-SQLAlchemy 3's aborting reads on the extension: the session is `<db>.session`.
    if (!singleEntity(plan) || !session.endsWith('.session')) throw new Error(`${plan.terminal}() needs one mapped class and a Flask-SQLAlchemy session`);
    const db = session.slice(0, -'.session'.length);
    const ident = plan.terminalArgs.filter((a) => a.keyword === undefined);
    const description = plan.terminalArgs.find((a) => a.keyword === 'description');
    const statement = plan.terminal === 'get_or_404' ? false : renderStatement({ entities: plan.entities, steps: [...plan.steps, ...(plan.terminal === 'first_or_404' ? [{ method: 'limit', args: [{ text: '1' }] }] : [])] as Array<{ method: string; args: ArgText[] }> }, { ...layout, multiline: false }, templates);
    return engine.renderFileSync('or_404', { db, method: plan.terminal, statement, entity: plan.entities[0].text, ident: joinArgs(ident, layout.outer, layout.source), description: description ? reindent(description, layout.outer, layout.source) : false }).trim();
  }
  if (plan.terminal === 'subquery' || plan.terminal === 'embedded') {
    const steps = plan.terminal === 'subquery' ? [...plan.steps, { method: 'subquery', args: plan.terminalArgs }] : plan.steps;
    return renderStatement({ entities: plan.entities, steps: steps as Array<{ method: string; args: ArgText[] }> }, layout, templates);
  }
  const inner = layout.outer + '    ';
  const at = layout.multiline ? inner : layout.outer;
  const steps: RenderStep[] = plan.steps.map((s) => ({ method: s.method, args: joinArgs(s.args, at, layout.source) }));
  let head = 'select';
  let args = joinArgs(plan.entities, at, layout.source);
  // Liquid treats '' as true: no base is `false`.
  let base: string | false = plan.base?.text ?? false;
  let tail = tailOf(plan).map((t) => `${t}()`);
  let template: 'select' | 'count' | 'delete' | 'update' = 'select';
  if (plan.terminal === 'first') steps.push({ method: 'limit', args: '1' });
  if (plan.terminal === 'count') {
    template = 'count';
    head = 'select';
    if (countForm(plan) === 'simple') {
      steps.unshift({ method: 'select_from', args });
    } else {
      const sub = engine.renderFileSync('statement', { head: 'select', args, base, steps, multiline: false, inner }).trim();
      base = false;
      steps.splice(0, steps.length, { method: 'select_from', args: `${sub}.subquery()` });
    }
    args = 'func.count()';
  } else if (plan.terminal === 'delete' || plan.terminal === 'update') {
    template = plan.terminal;
    head = plan.terminal;
    if (plan.terminal === 'update') steps.push({ method: 'values', args: joinArgs([plan.terminalArgs[0]], at, layout.source) });
    if (plan.sync) steps.push({ method: 'execution_options', args: `synchronize_session=${plan.sync.text}` });
    tail = layout.discarded ? [] : ['rowcount'];
  }
  return engine.renderFileSync(template, {
    session, head, args, base, steps, tail,
    multiline: layout.multiline, enclosed: layout.enclosed, outer: layout.outer, inner,
  }).trim();
}

/** A statement on its own (`select(X).where(…)`, or `q.where(…)` when `base` is set): a query built in a variable. */
export function renderStatement(parts: { entities?: ArgText[]; base?: string; steps: Array<{ method: string; args: ArgText[] }> }, layout: Layout, templates: SqlalchemyTemplates = defaultSqlalchemyTemplates()): string {
  // One step per line only inside brackets: a bare statement cannot continue on the next line.
  const multiline = layout.multiline && layout.enclosed;
  // Steps line up under the statement's first line (it starts the line inside the brackets).
  const at = layout.outer;
  return engineFor(templates).renderFileSync('statement', {
    head: 'select',
    args: joinArgs(parts.entities ?? [], at, layout.source),
    base: parts.base ?? false,
    steps: parts.steps.map((s) => ({ method: s.method, args: joinArgs(s.args, at, layout.source) })),
    multiline,
    inner: layout.outer,
  }).trim();
}

export function renderImportLine(names: string[], templates: SqlalchemyTemplates = defaultSqlalchemyTemplates()): string {
  return engineFor(templates).renderFileSync('import', { names }).trim();
}
