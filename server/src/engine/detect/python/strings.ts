/**
 * Python string literals: prefixes, escapes, f-string interpolations, and the two
 * formatting mini-languages (`%` and `str.format`) turned into text plus runtime parts.
 */
import type { Node } from 'web-tree-sitter';

/** A piece of recovered text: literal text, or a runtime value with its source. */
export type Piece = { text: string } | { dyn: string; node?: Node };

/** Bounded source text of a node for messages and dynamic parts. */
export function snippet(node: Node | string, max = 120): string {
  const raw = typeof node === 'string' ? node : node.endIndex - node.startIndex > max * 4 ? node.text.slice(0, max * 4) : node.text;
  const s = (raw.length > max * 4 ? raw.slice(0, max * 4) : raw).replace(/\s+/g, ' ').trim();
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

export interface StringLiteral {
  pieces: Piece[];
  /** Lower-cased prefix letters: `f`, `rb`, ... */
  prefix: string;
  hasInterpolation: boolean;
}

/** A `string` node as pieces. Raw strings keep backslashes; f-strings give one dyn piece per `{expr}`. */
export function decodeString(node: Node): StringLiteral {
  const pieces: Piece[] = [];
  let prefix = '';
  let hasInterpolation = false;
  for (const child of node.children) {
    if (!child) continue;
    switch (child.type) {
      case 'string_start':
        prefix = child.text.replace(/['"]/g, '').toLowerCase();
        break;
      case 'string_content': {
        let t = child.text;
        if (!prefix.includes('r')) t = unescape(t);
        if (prefix.includes('f') || prefix.includes('t')) t = t.replace(/\{\{/g, '{').replace(/\}\}/g, '}');
        pieces.push({ text: t });
        break;
      }
      case 'interpolation': {
        hasInterpolation = true;
        const expr = child.childForFieldName('expression') ?? child.firstNamedChild;
        pieces.push(expr ? { dyn: snippet(expr), node: expr } : { dyn: snippet(child) });
        break;
      }
      default:
        break;
    }
  }
  return { pieces, prefix, hasInterpolation };
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\n': '',
};

/** Python escape sequences of a non-raw literal. Unknown escapes keep their backslash, as Python does. */
export function unescape(s: string): string {
  if (!s.includes('\\')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== '\\' || i + 1 >= s.length) {
      out += c;
      continue;
    }
    const n = s[i + 1];
    if (n in SIMPLE_ESCAPES) {
      out += SIMPLE_ESCAPES[n];
      i++;
    } else if (n === '\r') {
      i += s[i + 2] === '\n' ? 2 : 1;
    } else if (n === 'x' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 2, i + 4))) {
      out += String.fromCharCode(parseInt(s.slice(i + 2, i + 4), 16));
      i += 3;
    } else if (n === 'u' && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) {
      out += String.fromCharCode(parseInt(s.slice(i + 2, i + 6), 16));
      i += 5;
    } else if (n === 'U' && /^[0-9a-fA-F]{8}$/.test(s.slice(i + 2, i + 10))) {
      const cp = parseInt(s.slice(i + 2, i + 10), 16);
      out += cp <= 0x10ffff ? String.fromCodePoint(cp) : '?';
      i += 9;
    } else if (n === 'N' && s[i + 2] === '{') {
      const close = s.indexOf('}', i + 3);
      out += '?';
      i = close < 0 ? s.length : close;
    } else if (/[0-7]/.test(n)) {
      const m = /^[0-7]{1,3}/.exec(s.slice(i + 1, i + 4))!;
      out += String.fromCharCode(parseInt(m[0], 8));
      i += m[0].length;
    } else {
      out += c;
    }
  }
  return out;
}

/**
 * `template % args`: each conversion (`%s`, `%d`, `%(name)s`, ...) becomes a runtime part named
 * after the matching argument; `%%` becomes `%`.
 */
export function applyPercent(pieces: Piece[], args: Node | null): Piece[] {
  const positional: Node[] = [];
  const named = new Map<string, Node>();
  if (args) {
    let a = args;
    while (a.type === 'parenthesized_expression' && a.firstNamedChild) a = a.firstNamedChild;
    if (a.type === 'tuple') {
      for (const c of a.namedChildren) if (c) positional.push(c);
    } else if (a.type === 'dictionary') {
      for (const pair of a.namedChildren) {
        const key = pair?.childForFieldName('key');
        const value = pair?.childForFieldName('value');
        if (key && value && key.type === 'string') named.set(stringValue(key), value);
      }
    } else if (a.type === 'call' && a.childForFieldName('function')?.text === 'dict') {
      for (const kw of a.childForFieldName('arguments')?.namedChildren ?? []) {
        if (kw?.type === 'keyword_argument') {
          const name = kw.childForFieldName('name')?.text;
          const value = kw.childForFieldName('value');
          if (name && value) named.set(name, value);
        }
      }
    }
  }
  const whole = args ? snippet(args) : 'args';
  let index = 0;
  const out: Piece[] = [];
  const re = /%(?:\(([^)]*)\))?[#0\- +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?([diouxXeEfFgGcrsa%])/g;
  for (const p of pieces) {
    if (!('text' in p)) {
      out.push(p);
      continue;
    }
    let last = 0;
    for (let m = re.exec(p.text); m; m = re.exec(p.text)) {
      out.push({ text: p.text.slice(last, m.index) });
      last = m.index + m[0].length;
      if (m[2] === '%') {
        out.push({ text: '%' });
        continue;
      }
      if (m[1] !== undefined) {
        const v = named.get(m[1]);
        out.push({ dyn: v ? snippet(v) : `${whole}[${JSON.stringify(m[1])}]` });
      } else {
        const v = positional[index++];
        out.push({ dyn: v ? snippet(v) : whole });
      }
    }
    re.lastIndex = 0;
    out.push({ text: p.text.slice(last) });
  }
  return out;
}

/**
 * `template.format(args)`: replacement fields become runtime parts named after the matching
 * argument; `{{` and `}}` become braces.
 */
export function applyFormat(pieces: Piece[], args: Node | null): Piece[] {
  const positional: Node[] = [];
  const named = new Map<string, Node>();
  for (const c of args?.namedChildren ?? []) {
    if (!c) continue;
    if (c.type === 'keyword_argument') {
      const name = c.childForFieldName('name')?.text;
      const value = c.childForFieldName('value');
      if (name && value) named.set(name, value);
    } else if (c.type !== 'comment') {
      positional.push(c);
    }
  }
  let auto = 0;
  const out: Piece[] = [];
  const re = /\{\{|\}\}|\{([^{}]*)\}/g;
  for (const p of pieces) {
    if (!('text' in p)) {
      out.push(p);
      continue;
    }
    let last = 0;
    for (let m = re.exec(p.text); m; m = re.exec(p.text)) {
      out.push({ text: p.text.slice(last, m.index) });
      last = m.index + m[0].length;
      if (m[0] === '{{' || m[0] === '}}') {
        out.push({ text: m[0][0] });
        continue;
      }
      const field = m[1].split(/[!:]/)[0].trim();
      const head = field.split(/[.[]/)[0];
      let v: Node | undefined;
      if (head === '') v = positional[auto++];
      else if (/^\d+$/.test(head)) v = positional[Number(head)];
      else v = named.get(head);
      out.push({ dyn: v ? snippet(v) + field.slice(head.length) : field || '{}' });
    }
    re.lastIndex = 0;
    out.push({ text: p.text.slice(last) });
  }
  return out;
}

/** The value of a plain string literal node (interpolations dropped). */
export function stringValue(node: Node): string {
  return decodeString(node)
    .pieces.map((p) => ('text' in p ? p.text : ''))
    .join('');
}
