/**
 * Chain → source text through templates (`templates/knex/*.liquid`, overridable per workspace
 * from `.sqlmigrate/templates/knex/`). Rendering is data-only: liquidjs with
 * `ownPropertyOnly` (no prototype access), no file system (templates are handed in as
 * strings), no filters or tags that run code. Whatever a template emits is parsed and
 * verified before it is offered (verify.ts), so a broken template yields "not offered",
 * never wrong code.
 *
 *   renderChain({ table: 'jobs', steps: [where('id', '=', <$1>)] }, { instance: 'db', exprs: { '1': 'id' } })
 *     → "db('jobs').where('id', '=', id)"
 */
import type { Arg, Chain, Step } from './chain';
import { liquidFor, shippedTemplateDir, shippedTemplates } from './templateSet';

export const TEMPLATE_NAMES = ['chain', 'select', 'insert', 'update', 'delete', 'raw', 'import-esm', 'import-cjs', 'transaction'] as const;
export type TemplateName = (typeof TEMPLATE_NAMES)[number];
export type Templates = Record<TemplateName, string>;

/** The directory holding the shipped `templates/knex/*.liquid` (found upwards from this module). */
export function defaultTemplateDir(): string {
  return shippedTemplateDir('knex', 'chain');
}

/** The shipped templates (read once; reading is the only file access of the engine's rewrite). */
export function defaultTemplates(): Templates {
  return shippedTemplates('knex', TEMPLATE_NAMES);
}

const engineFor = (templates: Templates) => liquidFor(templates, TEMPLATE_NAMES);

export interface RenderContext {
  instance: string;
  /** Parameter key → the source text of its argument expression. */
  exprs: Map<string, string>;
  /** Indentation of the line the chain starts on. */
  indent: string;
  /** Column the chain starts at. */
  column: number;
  maxLineLength?: number;
}

export function jsString(s: string): string {
  return "'" + s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029') + "'";
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

export function renderArg(a: Arg, ctx: RenderContext): string {
  switch (a.t) {
    case 'str': return jsString(a.v);
    case 'num': return String(a.v);
    case 'bool': return String(a.v);
    case 'null': return 'null';
    case 'bind': {
      const e = ctx.exprs.get(a.key);
      if (e === undefined) throw new Error(`no argument for parameter ${a.key}`);
      return e;
    }
    case 'array': return `[${a.items.map((x) => renderArg(x, ctx)).join(', ')}]`;
    case 'object': {
      const parts = a.entries.map(([k, v]) => {
        const key = IDENT.test(k) ? k : jsString(k);
        if (v.t === 'bind' && ctx.exprs.get(v.key) === k && IDENT.test(k)) return k;
        return `${key}: ${renderArg(v, ctx)}`;
      });
      return `{ ${parts.join(', ')} }`;
    }
    case 'now': return `${ctx.instance}.fn.now()`;
    case 'ref': return `${ctx.instance}.ref(${jsString(a.v)})`;
    case 'raw': return a.idents.length ? `${ctx.instance}.raw(${jsString(a.sql)}, [${a.idents.map(jsString).join(', ')}])` : `${ctx.instance}.raw(${jsString(a.sql)})`;
    case 'rawValue': return `${ctx.instance}.raw(${jsString(a.sql)}, [${renderArg(a.value, ctx)}])`;
    case 'fn': return `(${a.param}) => ${a.param}${a.steps.map((s) => renderStep(s, ctx)).join('')}`;
  }
}

function renderStep(s: Step, ctx: RenderContext): string {
  return `.${s.method}(${s.args.map((a) => renderArg(a, ctx)).join(', ')})`;
}

export function renderChain(chain: Chain, ctx: RenderContext, templates: Templates = defaultTemplates()): string {
  const table = jsString(chain.table);
  const steps = chain.steps.map((s) => ({ method: s.method, args: s.args.map((a) => renderArg(a, ctx)).join(', ') }));
  const inline = `${ctx.instance}(${table})${steps.map((s) => `.${s.method}(${s.args})`).join('')}`;
  return engineFor(templates).renderFileSync(chain.kind, {
    instance: ctx.instance,
    table,
    steps,
    inline,
    indent: ctx.indent,
    column: ctx.column,
    maxLineLength: ctx.maxLineLength ?? 100,
  }).trim();
}

export function renderRaw(instance: string, sqlLiteral: string, bindings: string, templates: Templates = defaultTemplates()): string {
  return engineFor(templates).renderFileSync('raw', { instance, sql: sqlLiteral, bindings }).trim();
}

export function renderImport(kind: 'esm' | 'cjs', instance: string, module: string, isDefault: boolean, templates: Templates = defaultTemplates()): string {
  return engineFor(templates).renderFileSync(kind === 'esm' ? 'import-esm' : 'import-cjs', { instance, module, default: isDefault }).trim();
}
