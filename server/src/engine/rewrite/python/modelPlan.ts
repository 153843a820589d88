/**
 * A CREATE TABLE → the plan of its mapped class: class name, attributes, and each column's
 * `Column(...)` arguments as source text, with the imports they need. Only faithful mappings:
 * a type, key, default or constraint SQLAlchemy would create differently is a reason naming the
 * column, never an approximation.
 *
 *   CREATE TABLE job_runs (id SERIAL PRIMARY KEY, started_at TIMESTAMPTZ NOT NULL DEFAULT now())
 *     → class JobRun: id = Column(Integer, primary_key=True)
 *                     started_at = Column(DateTime(timezone=True), nullable=False, server_default=text("now()"))
 */
import type { Dialect } from '../../types';
import type { DdlColumn, DdlTable } from './modelDdl';

export interface ImportNeed {
  module: string;
  /** undefined: `import module`. */
  name?: string;
}

export interface PlannedColumn {
  attr: string;
  column: string;
  primaryKey: boolean;
  /** The Column(...) arguments, in order. */
  args: string[];
  /** SQLModel only: the annotation and the Field(...) arguments before `sa_column=`. */
  annotation: string;
  fieldArgs: string[];
}

export interface ModelPlan {
  className: string;
  table: string;
  tableLiteral: string;
  style: 'declarative' | 'sqlmodel';
  tableArgs: string | false;
  columns: PlannedColumn[];
  imports: ImportNeed[];
}

const PY_KEYWORDS = new Set('False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield match case type'.split(' '));
/** Attribute names a mapped class cannot use for a column (declarative, Flask-SQLAlchemy, SQLModel / pydantic). */
const RESERVED = new Set(['metadata', 'registry', 'query', 'query_class', 'model_config', 'model_fields', 'model_computed_fields', 'dict', 'json', 'copy', 'schema', 'fields', 'validate', 'construct', 'parse_obj']);

export function pyString(s: string): string {
  return JSON.stringify(s);
}

/** `job_runs` → `JobRun`, `categories` → `Category`, `addresses` → `Address`, `status` → `Status`. */
export function classNameFor(table: string): string {
  const words = table.split(/[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])/).filter(Boolean);
  if (!words.length) return 'Model';
  words[words.length - 1] = singular(words[words.length - 1]);
  let name = words.map((w) => w[0].toUpperCase() + w.slice(1).toLowerCase()).join('');
  if (/^[0-9]/.test(name)) name = 'T' + name;
  return name;
}

function singular(w: string): string {
  const lower = w.toLowerCase();
  const keep = (s: string) => w.slice(0, s.length);
  if (/(ss|us|is|ys|news|data|series|species)$/.test(lower) || lower.length <= 2) return w;
  if (lower === 'people') return keep('pe') + 'rson';
  if (/[^aeiou]ies$/.test(lower)) return w.slice(0, -3) + (w.endsWith('IES') ? 'Y' : 'y');
  if (/(xes|ches|shes|sses|zzes)$/.test(lower)) return w.slice(0, -2);
  if (/s$/.test(lower)) return w.slice(0, -1);
  return w;
}

/** A column name → a Python attribute (`first name` → `first_name`, `class` → `class_`). */
export function attrFor(column: string): string {
  let a = column.replace(/[^A-Za-z0-9_]/g, '_');
  if (!a || /^[0-9]/.test(a)) a = 'c_' + a;
  if (PY_KEYWORDS.has(a) || RESERVED.has(a) || /^__.*__$/.test(a) || a.startsWith('_sa_')) a += '_';
  return a;
}

interface MappedType {
  expr: string;
  imports: ImportNeed[];
  /** The Python type SQLModel annotates with. */
  py: string;
  pyImports: ImportNeed[];
  integer: boolean;
  serial?: boolean;
}

const SA = 'sqlalchemy';
const PG = 'sqlalchemy.dialects.postgresql';
const sa = (expr: string, name: string, py: string, pyImports: ImportNeed[] = [], integer = false): MappedType => ({ expr, imports: [{ module: SA, name }], py, pyImports, integer });
const DT = (name: string): ImportNeed[] => [{ module: 'datetime', name }];

/** The SQLAlchemy type for a column's SQL type in a dialect, or why there is none. */
export function mapType(sqlType: string, dialect: Dialect): MappedType | { reason: string } {
  const t = sqlType.replace(/\s+/g, ' ').trim().toUpperCase();
  if (!t) return { reason: 'has no declared type' };
  if (/\[|\bARRAY\b/.test(t)) return { reason: `is an array (${sqlType}); arrays are not mapped` };
  const m = /^([A-Z][A-Z0-9_ ]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*((?:WITH|WITHOUT) TIME ZONE)?$/.exec(t);
  if (!m) return { reason: `has the type ${sqlType}, which has no faithful SQLAlchemy mapping here` };
  const [, base, p1, p2, tz] = m;
  const len = p1 !== undefined ? Number(p1) : undefined;
  const noArgs = len === undefined;
  const withTz = tz === 'WITH TIME ZONE';
  const no = { reason: `has the type ${sqlType}, which has no faithful SQLAlchemy mapping here` };
  switch (base) {
    case 'INTEGER': case 'INT': case 'INT4':
      // MySQL's display width (INT(11)) changes no value; it is deprecated and not re-created.
      return noArgs || (dialect === 'mysql' && p2 === undefined) ? sa('Integer', 'Integer', 'int', [], true) : no;
    case 'BIGINT': case 'INT8':
      return noArgs || (dialect === 'mysql' && p2 === undefined) ? sa('BigInteger', 'BigInteger', 'int', [], true) : no;
    case 'SMALLINT': case 'INT2':
      return noArgs || (dialect === 'mysql' && p2 === undefined) ? sa('SmallInteger', 'SmallInteger', 'int', [], true) : no;
    case 'SERIAL': case 'SERIAL4': case 'BIGSERIAL': case 'SERIAL8': case 'SMALLSERIAL': case 'SERIAL2': {
      if (dialect !== 'postgresql' || !noArgs) return no;
      const big = base === 'BIGSERIAL' || base === 'SERIAL8';
      const small = base === 'SMALLSERIAL' || base === 'SERIAL2';
      const name = big ? 'BigInteger' : small ? 'SmallInteger' : 'Integer';
      return { ...sa(name, name, 'int', [], true), serial: true };
    }
    case 'VARCHAR': case 'CHARACTER VARYING':
      if (p2 !== undefined) return no;
      if (noArgs && dialect === 'mysql') return no;
      return sa(noArgs ? 'String' : `String(${len})`, 'String', 'str');
    case 'CHAR': case 'CHARACTER':
      if (p2 !== undefined) return no;
      return sa(noArgs ? 'CHAR' : `CHAR(${len})`, 'CHAR', 'str');
    case 'TEXT':
      return noArgs ? sa('Text', 'Text', 'str') : no;
    case 'BOOLEAN': case 'BOOL':
      return noArgs ? sa('Boolean', 'Boolean', 'bool') : no;
    case 'REAL': case 'FLOAT4':
      return noArgs && dialect !== 'mysql' ? sa('REAL', 'REAL', 'float') : no;
    case 'FLOAT':
      return noArgs ? sa('Float', 'Float', 'float') : no;
    case 'DOUBLE PRECISION': case 'DOUBLE': case 'FLOAT8':
      return noArgs ? sa('Float(53)', 'Float', 'float') : no;
    case 'NUMERIC': case 'DECIMAL':
      if (noArgs) return dialect === 'mysql' ? no : sa('Numeric', 'Numeric', 'Decimal', [{ module: 'decimal', name: 'Decimal' }]);
      return sa(p2 !== undefined ? `Numeric(${len}, ${p2})` : `Numeric(${len})`, 'Numeric', 'Decimal', [{ module: 'decimal', name: 'Decimal' }]);
    case 'DATE':
      return noArgs ? sa('Date', 'Date', 'date', DT('date')) : no;
    case 'TIME':
      if (!noArgs) return no;
      return withTz ? sa('Time(timezone=True)', 'Time', 'time', DT('time')) : sa('Time', 'Time', 'time', DT('time'));
    case 'TIMESTAMP':
      if (!noArgs) return no;
      if (dialect === 'mysql') return tz ? no : sa('TIMESTAMP', 'TIMESTAMP', 'datetime', DT('datetime'));
      return withTz ? sa('DateTime(timezone=True)', 'DateTime', 'datetime', DT('datetime')) : sa('DateTime', 'DateTime', 'datetime', DT('datetime'));
    case 'TIMESTAMPTZ':
      return noArgs && dialect === 'postgresql' ? sa('DateTime(timezone=True)', 'DateTime', 'datetime', DT('datetime')) : no;
    case 'DATETIME':
      return noArgs && dialect !== 'postgresql' ? sa('DateTime', 'DateTime', 'datetime', DT('datetime')) : no;
    case 'INTERVAL':
      return noArgs && dialect === 'postgresql' ? sa('Interval', 'Interval', 'timedelta', DT('timedelta')) : no;
    case 'JSON':
      return noArgs ? sa('JSON', 'JSON', 'Any', [{ module: 'typing', name: 'Any' }]) : no;
    case 'JSONB':
      return noArgs && dialect === 'postgresql' ? { expr: 'JSONB', imports: [{ module: PG, name: 'JSONB' }], py: 'Any', pyImports: [{ module: 'typing', name: 'Any' }], integer: false } : no;
    case 'UUID':
      return noArgs && dialect === 'postgresql' ? { expr: 'UUID(as_uuid=True)', imports: [{ module: PG, name: 'UUID' }], py: 'uuid.UUID', pyImports: [{ module: 'uuid' }], integer: false } : no;
    case 'BYTEA':
      return noArgs && dialect === 'postgresql' ? sa('LargeBinary', 'LargeBinary', 'bytes') : no;
    case 'BLOB':
      return noArgs && dialect !== 'postgresql' ? sa('LargeBinary', 'LargeBinary', 'bytes') : no;
    default:
      return no;
  }
}

/** A single integer primary key that is SQLite's rowid (`INTEGER PRIMARY KEY`, exactly that type name). */
function isRowid(table: DdlTable, c: DdlColumn): boolean {
  return table.dialect === 'sqlite' && table.primaryKey.length === 1 && c.primaryKey && /^INTEGER$/i.test(c.sqlType.trim());
}

/** The plan of `table`'s class, or why it cannot be generated faithfully. */
export function planModel(table: DdlTable, style: 'declarative' | 'sqlmodel'): ModelPlan | { reason: string } {
  if (table.problems.length) return { reason: `${table.table}: ${table.problems.join('; ')}` };
  if (!table.columns.length) return { reason: `${table.table}: the table has no columns` };
  if (!table.primaryKey.length) return { reason: `${table.table}: the table has no primary key, and a mapped class needs one` };
  const imports: ImportNeed[] = [{ module: SA, name: 'Column' }];
  const columns: PlannedColumn[] = [];
  const attrs = new Set<string>();
  const tableArgs: string[] = [];
  const single = table.primaryKey.length === 1;
  for (const c of table.columns) {
    const where = `${table.table}.${c.name}`;
    const type = mapType(c.sqlType, table.dialect);
    if ('reason' in type) return { reason: `column ${where} ${type.reason}` };
    const attr = attrFor(c.name);
    if (attrs.has(attr)) return { reason: `column ${where}: its attribute name ${attr} is taken by another column` };
    attrs.add(attr);
    const args: string[] = [];
    if (attr !== c.name) args.push(pyString(c.name));
    args.push(type.expr);
    imports.push(...type.imports);
    if (c.foreignKey) {
      const fk = [pyString(`${c.foreignKey.table}.${c.foreignKey.column}`)];
      if (c.foreignKey.name) fk.push(`name=${pyString(c.foreignKey.name)}`);
      if (c.foreignKey.onDelete) fk.push(`ondelete=${pyString(c.foreignKey.onDelete)}`);
      if (c.foreignKey.onUpdate) fk.push(`onupdate=${pyString(c.foreignKey.onUpdate)}`);
      args.push(`ForeignKey(${fk.join(', ')})`);
      imports.push({ module: SA, name: 'ForeignKey' });
    }
    const pk = c.primaryKey;
    if (pk) args.push('primary_key=True');
    // Autoincrement: SQLAlchemy makes a single integer primary key SERIAL / AUTO_INCREMENT unless told not to.
    let autoinc = false;
    if (type.serial && !(pk && single)) return { reason: `column ${where} is ${c.sqlType} but not the table's only primary key; SQLAlchemy creates SERIAL only for one` };
    if (c.autoIncrement && !(pk && single && type.integer)) return { reason: `column ${where} has AUTO_INCREMENT but is not the table's only integer primary key` };
    if (pk && single && type.integer) {
      if (table.dialect === 'postgresql') autoinc = !!type.serial;
      else if (table.dialect === 'mysql') autoinc = c.autoIncrement;
      else autoinc = isRowid(table, c) || c.autoIncrement;
      if (table.dialect === 'sqlite' && c.autoIncrement) {
        if (!isRowid(table, c)) return { reason: `column ${where}: AUTOINCREMENT needs the type INTEGER` };
        tableArgs.push('"sqlite_autoincrement": True');
      }
      if (!autoinc) args.push('autoincrement=False');
    }
    // Nullability as the database has it: SQLite lets a primary key hold NULL unless NOT NULL is written.
    if (pk) {
      if (table.dialect === 'sqlite' && !c.notNull && !isRowid(table, c)) args.push('nullable=True');
    } else if (!c.nullable) args.push('nullable=False');
    if (c.unique && !pk) args.push('unique=True');
    if (c.unique && pk) return { reason: `column ${where} is both PRIMARY KEY and UNIQUE; SQLAlchemy would create one constraint` };
    if (c.default !== undefined) {
      if (type.serial) return { reason: `column ${where} is ${c.sqlType} with a DEFAULT` };
      args.push(`server_default=text(${pyString(c.default)})`);
      imports.push({ module: SA, name: 'text' });
    }
    let annotation = '';
    const fieldArgs: string[] = [];
    if (style === 'sqlmodel') {
      const optional = c.nullable || autoinc || (pk && table.dialect === 'sqlite' && !c.notNull);
      annotation = optional ? `Optional[${type.py}]` : type.py;
      if (optional) imports.push({ module: 'typing', name: 'Optional' });
      imports.push(...type.pyImports);
      // A Python default would be sent in the INSERT: only columns without a server default get `default=None`.
      if (optional && c.default === undefined) fieldArgs.push('default=None');
    }
    columns.push({ attr, column: c.name, primaryKey: pk, args, annotation, fieldArgs });
  }
  const positional: string[] = [];
  for (const k of table.constraints ?? []) {
    const name = k.name ? `, name=${pyString(k.name)}` : '';
    if (k.kind === 'unique') {
      const missing = k.columns.find((c) => !table.columns.some((x) => x.name === c));
      if (missing) return { reason: `${table.table}: UNIQUE names ${missing}, which is no column of the table` };
      positional.push(`UniqueConstraint(${k.columns.map(pyString).join(', ')}${name})`);
      imports.push({ module: SA, name: 'UniqueConstraint' });
    } else {
      positional.push(`CheckConstraint(${pyString(k.sql)}${name})`);
      imports.push({ module: SA, name: 'CheckConstraint' });
    }
  }
  if (table.schema) tableArgs.push(`"schema": ${pyString(table.schema)}`);
  for (const [k, v] of Object.entries(table.options)) tableArgs.push(`"mysql_${k}": ${pyString(v)}`);
  const dict = tableArgs.length ? `{${tableArgs.join(', ')}}` : undefined;
  // `__table_args__` is a dict, or a tuple of constraints ending with the dict.
  const items = [...positional, ...(dict ? [dict] : [])];
  let args = positional.length ? `(${items.join(', ')}${positional.length === 1 && !dict ? ',' : ''})` : dict;
  // Longer than a line: one item per line.
  if (args && positional.length && args.length + '    __table_args__ = '.length > 88) args = `(\n${items.map((x) => `        ${x},`).join('\n')}\n    )`;
  if (style === 'sqlmodel') imports.push({ module: 'sqlmodel', name: 'Field' }, { module: 'sqlmodel', name: 'SQLModel' });
  // In the class body an attribute shadows the module's name for the lines after it:
  // `text = Column(Text)` would make a later `server_default=text(…)` call the Column.
  const imported = new Set(imports.map((n) => n.name ?? n.module.split('.')[0]));
  for (const col of columns) {
    if (!imported.has(col.attr)) continue;
    let attr = `${col.attr}_`;
    while (attrs.has(attr) || imported.has(attr)) attr += '_';
    attrs.add(attr);
    if (col.attr === col.column) col.args.unshift(pyString(col.column));
    col.attr = attr;
  }
  return {
    className: classNameFor(table.table),
    table: table.table,
    tableLiteral: pyString(table.table),
    style,
    tableArgs: args ?? false,
    columns,
    imports: dedupe(imports),
  };
}

export function dedupe(needs: ImportNeed[]): ImportNeed[] {
  const seen = new Set<string>();
  return needs.filter((n) => {
    const k = `${n.module}\u0000${n.name ?? ''}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
