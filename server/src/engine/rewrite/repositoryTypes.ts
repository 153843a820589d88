/**
 * The contract shared by the repository rewrites (issue #5): TypeScript (a Knex-backed repository
 * class, `rewrite/repository.ts`) and Python (a SQLAlchemy 2.0 repository taking a Session,
 * `rewrite/python/repository.ts`), and by model generation (`rewrite/python/model.ts`).
 *
 * Like every rewrite, the engine does no I/O: the host hands in the current text of the files a
 * rewrite may touch (`readFile`, workspace-relative, '/'-separated; undefined = absent) and gets
 * back the edits in the finding's file plus the whole new text of every other file, which the
 * host turns into a WorkspaceEdit (CreateFile + edits) or writes (`sqlmigrate fix --target repository`).
 */
import type { TextEdit } from './callsite';

export type { TextEdit };

/** A file a rewrite creates or changes besides the finding's own file. */
export interface FileChange {
  /** Workspace-relative, '/'-separated. */
  file: string;
  /** The text the rewrite started from; undefined when the rewrite creates the file. */
  before: string | undefined;
  after: string;
}

/** The repository method a call site now calls. */
export interface RepositoryMethod {
  /** `JobRepository` / `JobRepository` (Python class names follow the same PascalCase rule). */
  className: string;
  /** `findById` (TS) / `get_by_id` (Python). */
  name: string;
  /** Workspace-relative repository file. */
  file: string;
  /**
   * What makes two statements the same method: the normalised SQL and how the result is read
   * (`one`, `all`, `rowcount`, `none`, …). Written next to the method (a `sql:` doc line) so a
   * later rewrite, in any file, finds and reuses it.
   */
  fingerprint: string;
  /** true when the method already existed and is reused. */
  reused: boolean;
}

export interface RepositoryAction {
  title: string;
  kind: 'quickfix';
  preferred: boolean;
  verified: boolean;
  /** Call-site edits in the finding's file; empty when not offered. */
  edits: TextEdit[];
  /** The repository file (and, in Python, a generated model file) created or changed. */
  files: FileChange[];
  reasonNotOffered?: string;
  target: 'repository';
  method?: RepositoryMethod;
}

/** An ORM class mapped to a table, as found in the workspace or generated from DDL. */
export interface PythonModel {
  className: string;
  table: string;
  /** Workspace-relative file that defines it. */
  file: string;
  /** Dotted module to import it from (`app.models`). */
  module: string;
  style: 'declarative' | 'sqlmodel' | 'flask';
  /** Mapped columns in declaration order: Python attribute and database column. */
  columns: Array<{ attr: string; column: string; primaryKey: boolean }>;
}

/** `rewrite.repository` in .sqlmigrate.json, with defaults applied by `repositoryConfig`. */
export interface RepositoryConfig {
  typescript: {
    /** Folder for repository files (default `src/repositories`). */
    dir: string;
  };
  python: {
    /** Folder for repository files (default `repositories`); its dotted path is the import. */
    dir: string;
    /** A callable returning a context manager that yields a Session (`get_session`); unset = not offered, with that reason. */
    session?: string;
    /** Module the session callable is imported from (`app.db`). */
    sessionModule?: string;
    /** File for generated models (default `models.py`). */
    models: string;
    /** `auto` (SQLModel when the project already uses it), `declarative` or `sqlmodel`. */
    modelStyle: 'auto' | 'declarative' | 'sqlmodel';
    /**
     * The folder on `sys.path` that module names start from (`backend` when the code runs as
     * `backend/app/...` with `backend` on the path); default the workspace root.
     */
    packageRoot?: string;
  };
}

export const DEFAULT_REPOSITORY_CONFIG: RepositoryConfig = {
  typescript: { dir: 'src/repositories' },
  python: { dir: 'repositories', models: 'models.py', modelStyle: 'auto' },
};

/** The configured section merged over the defaults. */
export function repositoryConfig(raw: Partial<{ typescript: Partial<RepositoryConfig['typescript']>; python: Partial<RepositoryConfig['python']> }> | undefined): RepositoryConfig {
  return {
    typescript: { ...DEFAULT_REPOSITORY_CONFIG.typescript, ...(raw?.typescript ?? {}) },
    python: { ...DEFAULT_REPOSITORY_CONFIG.python, ...(raw?.python ?? {}) },
  };
}

/**
 * The module name of a workspace file when `packageRoot` (workspace-relative, '' or '.' for the
 * root) is the folder on `sys.path`; undefined for a file outside it or a path that is not a
 * dotted name (`my-service/app.py`).
 */
export function pythonModuleIn(file: string, packageRoot: string | undefined): string | undefined {
  const root = (packageRoot ?? '').replace(/\\/g, '/').replace(/^\.\/?/, '').replace(/\/+$/, '');
  const rel = file.replace(/\\/g, '/').replace(/^\.\//, '');
  if (root && !rel.startsWith(root + '/')) return undefined;
  const mod = pythonModuleOf(root ? rel.slice(root.length + 1) : rel);
  return /^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$/.test(mod) ? mod : undefined;
}

/** A model's importable module under `packageRoot`, or undefined when it cannot be imported from there. */
export function withPackageRoot(m: PythonModel, packageRoot: string | undefined): PythonModel | undefined {
  const module = pythonModuleIn(m.file, packageRoot);
  return module ? { ...m, module } : undefined;
}

/** `app/repositories/job_repository.py` → `app.repositories.job_repository`. */
export function pythonModuleOf(file: string): string {
  return file.replace(/\\/g, '/').replace(/\.py$/, '').replace(/\/__init__$/, '').split('/').filter(Boolean).join('.');
}
