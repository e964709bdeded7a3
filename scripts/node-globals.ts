/**
 * Which of Node's globals (process, Buffer, global, require, ...) a piece of bundled code
 * reads: a browser has none of them, so each use must be one a reviewer has checked.
 * Found on the syntax tree, so words in strings and property names (`x.process`) do not
 * count, nor feature checks (`typeof process`), nor a local variable of the same name.
 */
import { parseAst } from 'vite'

/** Globals of Node that browsers lack. */
export const NODE_GLOBALS: ReadonlySet<string> = new Set([
  'process',
  'Buffer',
  'global',
  'require',
  'module',
  'exports',
  'setImmediate',
  '__dirname',
  '__filename',
])

type AstNode = { type: string; [key: string]: unknown }

/** The Node globals that `code` (an ES module) reads as free variables. */
export function nodeGlobalsRead(code: string): Set<string> {
  const ast = parseAst(code) as unknown as AstNode
  const declared = new Set<string>()
  const read = new Set<string>()
  walk(ast, undefined, (node, parent) => {
    if (node.type !== 'Identifier' || !NODE_GLOBALS.has(node.name as string)) return
    if (parent === undefined) return
    if (isDeclaration(node, parent)) declared.add(node.name as string)
    else if (isRead(node, parent)) read.add(node.name as string)
  })
  for (const name of declared) read.delete(name)
  return read
}

function walk(node: AstNode, parent: AstNode | undefined, visit: (node: AstNode, parent: AstNode | undefined) => void): void {
  visit(node, parent)
  for (const value of Object.values(node)) {
    for (const child of Array.isArray(value) ? value : [value]) {
      if (child !== null && typeof child === 'object' && typeof (child as AstNode).type === 'string') {
        walk(child as AstNode, node, visit)
      }
    }
  }
}

/** A name being bound (variable, parameter, function, class, import): the code has its own. */
function isDeclaration(node: AstNode, parent: AstNode): boolean {
  switch (parent.type) {
    case 'VariableDeclarator':
      return parent.id === node
    case 'FunctionDeclaration':
    case 'FunctionExpression':
    case 'ArrowFunctionExpression':
      return parent.id === node || (parent.params as unknown[]).includes(node)
    case 'ClassDeclaration':
    case 'ClassExpression':
      return parent.id === node
    case 'CatchClause':
      return parent.param === node
    case 'ImportSpecifier':
    case 'ImportDefaultSpecifier':
    case 'ImportNamespaceSpecifier':
      return parent.local === node
    default:
      return false
  }
}

/** A read of the variable, other than `typeof name` and other than a property name. */
function isRead(node: AstNode, parent: AstNode): boolean {
  switch (parent.type) {
    case 'UnaryExpression':
      return parent.operator !== 'typeof'
    case 'MemberExpression':
      return parent.object === node || parent.computed === true
    case 'Property':
      return parent.value === node || parent.computed === true
    case 'MethodDefinition':
    case 'PropertyDefinition':
      return parent.key !== node || parent.computed === true
    case 'LabeledStatement':
    case 'BreakStatement':
    case 'ContinueStatement':
    case 'ExportSpecifier':
      return false
    default:
      return true
  }
}
