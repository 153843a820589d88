/**
 * `.sqlmigrate.json`: include/exclude globs, dialect, wrappers, session factories,
 * exceptions with reasons and the migration target. The file is data: it is parsed as
 * JSON and validated against `schemas/sqlmigrate.schema.json`, never evaluated.
 */
import Ajv from 'ajv';
import picomatch from 'picomatch';
import schema from '../../../schemas/sqlmigrate.schema.json';
import type { DetectOptions, Dialect, RuleId, WrapperSpec } from './types';

export const CONFIG_FILE = '.sqlmigrate.json';

export const DEFAULT_EXCLUDES = [
  '**/node_modules/**', '**/.git/**', '**/.hg/**', '**/.svn/**',
  '**/dist/**', '**/build/**', '**/out/**', '**/coverage/**', '**/.next/**', '**/.nuxt/**',
  '**/vendor/**', '**/third_party/**', '**/bower_components/**',
  '**/.venv/**', '**/venv/**', '**/.tox/**', '**/__pycache__/**', '**/site-packages/**', '**/.mypy_cache/**',
  '**/*.min.js', '**/*.bundle.js', '**/*.d.ts',
  '**/.sqlmigrate/**',
];

export const SUPPORTED_EXTENSIONS = ['.ts', '.tsx', '.mts', '.cts', '.js', '.jsx', '.mjs', '.cjs', '.py'];

export interface ConfigException {
  path: string;
  reason: string;
  rules?: RuleId[];
}

/** The `rewrite` section: how rewrites are rendered (read by server/src/rewrite and the language server). */
export interface RewriteConfig {
  knex?: { instance?: string; import?: string; importDefault?: boolean };
  wrappers?: Record<string, 'rows' | 'unknown'>;
  /**
   * A planned schema change applied by the Knex rewrite: old table → { table: new name,
   * columns: { old: new }, values: { oldColumn: { oldValue: newValue } } }.
   */
  schemaMapping?: Record<string, { table?: string; columns?: Record<string, string>; values?: Record<string, Record<string, string | number>> }>;
  /** Where repository rewrites put their files (engine/rewrite/repositoryTypes.ts, defaults there). */
  repository?: {
    typescript?: { dir?: string };
    python?: { dir?: string; session?: string; sessionModule?: string; models?: string; modelStyle?: 'auto' | 'declarative' | 'sqlmodel'; packageRoot?: string };
  };
}

export interface Config {
  include: string[];
  exclude: string[];
  useDefaultExcludes: boolean;
  dialect: Dialect;
  wrappers: WrapperSpec[];
  sessionFactories: string[];
  exceptions: ConfigException[];
  target: { reduction?: number; rules?: RuleId[] };
  maxFileSize: number;
  rewrite: RewriteConfig;
}

export const DEFAULT_CONFIG: Config = {
  include: ['**/*'],
  exclude: [],
  useDefaultExcludes: true,
  dialect: 'postgresql',
  wrappers: [],
  sessionFactories: ['get_session'],
  exceptions: [],
  target: {},
  maxFileSize: 2 * 1024 * 1024,
  rewrite: {},
};

export class ConfigError extends Error {
  constructor(readonly file: string, readonly details: string[]) {
    super(`${file}: ${details.join('; ')}`);
  }
}

let validator: ReturnType<Ajv['compile']> | undefined;

/**
 * Parses and validates config text. Throws ConfigError with every problem found;
 * the caller decides whether to stop (CLI) or fall back to defaults and say so (server).
 */
export function parseConfig(text: string, file = CONFIG_FILE): Config {
  let raw: unknown;
  try {
    raw = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new ConfigError(file, [`not valid JSON: ${(e as Error).message}`]);
  }
  validator ??= new Ajv({ allErrors: true, strict: false }).compile(schema);
  if (!validator(raw)) {
    const details = (validator.errors ?? []).map((err) => `${err.instancePath || '(root)'} ${err.message ?? 'is invalid'}`);
    throw new ConfigError(file, [...new Set(details)]);
  }
  const r = raw as Record<string, unknown>;
  const globs: string[] = [];
  const check = (g: string) => {
    if (/^[/\\]/.test(g) || /^[A-Za-z]:/.test(g) || g.split(/[/\\]/).includes('..')) globs.push(g);
  };
  for (const key of ['include', 'exclude'] as const) for (const g of (r[key] as string[] | undefined) ?? []) check(g);
  for (const x of (r.exceptions as ConfigException[] | undefined) ?? []) check(x.path);
  const knexImport = (r.rewrite as RewriteConfig | undefined)?.knex?.import;
  if (knexImport !== undefined) check(knexImport);
  const repo = (r.rewrite as RewriteConfig | undefined)?.repository;
  for (const p of [repo?.typescript?.dir, repo?.python?.dir, repo?.python?.models, repo?.python?.packageRoot]) if (p !== undefined) check(p);
  if (globs.length) throw new ConfigError(file, globs.map((g) => `path "${g}" leaves the workspace; use a path relative to the workspace root`));

  return {
    include: (r.include as string[] | undefined) ?? DEFAULT_CONFIG.include,
    exclude: (r.exclude as string[] | undefined) ?? [],
    useDefaultExcludes: (r.useDefaultExcludes as boolean | undefined) ?? true,
    dialect: normaliseDialect(r.dialect as string | undefined) ?? DEFAULT_CONFIG.dialect,
    wrappers: ((r.wrappers as Array<string | Record<string, unknown>> | undefined) ?? []).map((w) =>
      typeof w === 'string'
        ? { callee: w, sqlArgument: 0 }
        : { callee: w.callee as string, sqlArgument: (w.sqlArgument as number | undefined) ?? 0, dialect: normaliseDialect(w.dialect as string | undefined) },
    ),
    sessionFactories: (r.sessionFactories as string[] | undefined) ?? DEFAULT_CONFIG.sessionFactories,
    exceptions: (r.exceptions as ConfigException[] | undefined) ?? [],
    target: (r.target as Config['target'] | undefined) ?? {},
    maxFileSize: (r.maxFileSize as number | undefined) ?? DEFAULT_CONFIG.maxFileSize,
    rewrite: (r.rewrite as RewriteConfig | undefined) ?? {},
  };
}

function normaliseDialect(d: string | undefined): Dialect | undefined {
  if (d === undefined) return undefined;
  return d === 'postgres' ? 'postgresql' : (d as Dialect);
}

export function detectOptions(config: Config): DetectOptions {
  return { defaultDialect: config.dialect, wrappers: config.wrappers, sessionFactories: config.sessionFactories };
}

/** Compiled path matchers for a config: which files to scan and which exceptions apply. */
export class PathRules {
  private readonly included: (path: string) => boolean;
  private readonly excluded: (path: string) => boolean;
  private readonly exceptionMatchers: Array<{ match: picomatch.Matcher; exception: ConfigException }>;

  constructor(readonly config: Config) {
    const opts = { dot: true };
    this.included = picomatch(config.include.length ? config.include : ['**/*'], opts);
    const excludes = [...(config.useDefaultExcludes ? DEFAULT_EXCLUDES : []), ...config.exclude];
    this.excluded = excludes.length ? picomatch(excludes, opts) : () => false;
    this.exceptionMatchers = config.exceptions.map((exception) => ({ match: picomatch(exception.path, opts), exception }));
  }

  /** `rel` uses forward slashes, relative to the root. */
  isExcludedDirectory(rel: string): boolean {
    return this.excluded(`${rel}/.sqlmigrate-probe`) || this.excluded(rel);
  }

  isScanned(rel: string): boolean {
    const ext = rel.slice(rel.lastIndexOf('.')).toLowerCase();
    if (!SUPPORTED_EXTENSIONS.includes(ext)) return false;
    return this.isIncluded(rel);
  }

  /** Inside include and outside exclude, whatever the extension (.sql files read for DDL). */
  isIncluded(rel: string): boolean {
    return this.included(rel) && !this.excluded(rel);
  }

  exceptionFor(rel: string, rule: RuleId): ConfigException | undefined {
    for (const { match, exception } of this.exceptionMatchers) {
      if (match(rel) && (!exception.rules || exception.rules.includes(rule))) return exception;
    }
    return undefined;
  }
}
