/**
 * Just enough name resolution to follow `const sql = '...'` to its text: declarations are
 * indexed by name during the detector's walk, and a use picks the innermost declaration
 * whose scope contains it, unless a parameter, catch variable or destructured name in
 * between shadows it.
 */
import ts = require('typescript');

export interface Declaration {
  name: string;
  /** The initializer, when the declaration is a plain `name = init` variable. */
  init?: ts.Expression;
  /** `const`, `let`, `var`, or `other` (destructured names, functions, classes, imports). */
  flavour: 'const' | 'let' | 'var' | 'other';
  node: ts.Node;
  /** The node whose range is the declaration's scope. */
  scope: ts.Node;
}

export class ScopeIndex {
  private readonly decls = new Map<string, Declaration[]>();
  private readonly assigns = new Map<string, ts.BinaryExpression[]>();
  private readonly classes = new Map<string, ts.ClassDeclaration>();

  /** Called by the walk for every node that may declare or assign a name. */
  visit(node: ts.Node): void {
    if (ts.isVariableDeclaration(node)) {
      const list = node.parent;
      const flavour: Declaration['flavour'] =
        ts.isVariableDeclarationList(list) && list.flags & ts.NodeFlags.Const ? 'const'
          : ts.isVariableDeclarationList(list) && list.flags & (ts.NodeFlags.Let | ts.NodeFlags.Using | ts.NodeFlags.AwaitUsing) ? 'let' : 'var';
      if (ts.isIdentifier(node.name)) {
        const inLoopHead = ts.isVariableDeclarationList(list) && (ts.isForOfStatement(list.parent) || ts.isForInStatement(list.parent));
        this.add({
          name: node.name.text,
          init: inLoopHead ? undefined : node.initializer,
          flavour: inLoopHead ? 'other' : flavour,
          node,
          scope: flavour === 'var' ? functionScopeOf(node) : blockScopeOf(node),
        });
      }
    } else if (ts.isBindingElement(node) && ts.isIdentifier(node.name)) {
      this.add({ name: node.name.text, flavour: 'other', node, scope: blockScopeOf(node) });
    } else if ((ts.isFunctionDeclaration(node) || ts.isClassDeclaration(node)) && node.name) {
      const scope = node.parent && (ts.isSourceFile(node.parent) || ts.isBlock(node.parent) || ts.isModuleBlock(node.parent)) ? node.parent : blockScopeOf(node);
      this.add({ name: node.name.text, flavour: 'other', node, scope });
      if (ts.isClassDeclaration(node) && !this.classes.has(node.name.text)) this.classes.set(node.name.text, node);
    } else if (ts.isBinaryExpression(node) && isAssignmentOperator(node.operatorToken.kind) && ts.isIdentifier(skipParens(node.left))) {
      const name = (skipParens(node.left) as ts.Identifier).text;
      const list = this.assigns.get(name);
      if (list) list.push(node);
      else this.assigns.set(name, [node]);
    }
  }

  private add(d: Declaration): void {
    const list = this.decls.get(d.name);
    if (list) list.push(d);
    else this.decls.set(d.name, [d]);
  }

  /** The declaration `id` refers to, or undefined when it is a parameter, global or shadowed. */
  resolve(id: ts.Identifier): Declaration | undefined {
    const candidates = this.decls.get(id.text);
    if (!candidates) return undefined;
    const pos = id.getStart();
    let best: Declaration | undefined;
    for (const d of candidates) {
      if (d.node === id.parent) continue;
      if (d.scope.pos <= pos && pos < d.scope.end && (!best || d.scope.pos >= best.scope.pos)) best = d;
    }
    if (!best) return undefined;
    // Parameters and catch variables between the use and the declaration's scope shadow it.
    for (let p: ts.Node | undefined = id.parent; p && p !== best.scope; p = p.parent) {
      if (ts.isFunctionLike(p) && p.parameters.some((param) => bindsName(param.name, id.text))) return undefined;
      if (ts.isCatchClause(p) && p.variableDeclaration && bindsName(p.variableDeclaration.name, id.text)) return undefined;
    }
    return best;
  }

  /** Assignments (`=`, `+=`, ...) to the name inside the declaration's scope. */
  assignmentsOf(d: Declaration): ts.BinaryExpression[] {
    const all = this.assigns.get(d.name) ?? [];
    return all.filter((a) => a.pos >= d.scope.pos && a.end <= d.scope.end);
  }

  classNamed(name: string): ts.ClassDeclaration | undefined {
    return this.classes.get(name);
  }
}

function bindsName(name: ts.BindingName, text: string): boolean {
  if (ts.isIdentifier(name)) return name.text === text;
  // Binding patterns: look through their elements without recursion limits mattering (patterns are shallow).
  const stack: ts.BindingName[] = [name];
  while (stack.length) {
    const n = stack.pop()!;
    if (ts.isIdentifier(n)) {
      if (n.text === text) return true;
    } else {
      for (const el of n.elements) if (!ts.isOmittedExpression(el)) stack.push(el.name);
    }
  }
  return false;
}

export function isAssignmentOperator(kind: ts.SyntaxKind): boolean {
  return kind >= ts.SyntaxKind.FirstAssignment && kind <= ts.SyntaxKind.LastAssignment;
}

export function skipParens(node: ts.Expression): ts.Expression {
  let n = node;
  for (let k = 0; k < 1000; k++) {
    if (ts.isParenthesizedExpression(n) || ts.isAsExpression(n) || ts.isSatisfiesExpression(n) || ts.isNonNullExpression(n) || ts.isTypeAssertionExpression(n)) {
      n = n.expression;
    } else {
      break;
    }
  }
  return n;
}

function blockScopeOf(node: ts.Node): ts.Node {
  for (let p = node.parent; p; p = p.parent) {
    if (ts.isBlock(p) || ts.isSourceFile(p) || ts.isModuleBlock(p) || ts.isCaseBlock(p) || ts.isForStatement(p) || ts.isForOfStatement(p) || ts.isForInStatement(p) || ts.isCatchClause(p)) return p;
    if (ts.isFunctionLike(p) || ts.isClassStaticBlockDeclaration(p)) return p;
  }
  return node.getSourceFile();
}

function functionScopeOf(node: ts.Node): ts.Node {
  for (let p = node.parent; p; p = p.parent) {
    if (ts.isFunctionLike(p) || ts.isSourceFile(p) || ts.isModuleBlock(p) || ts.isClassStaticBlockDeclaration(p)) return p;
  }
  return node.getSourceFile();
}
