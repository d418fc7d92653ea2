// The named functions of one JavaScript file, with their line spans, for jstruth.py.
//
//   node jsfunctions.js /path/to/acorn.js < source.js   ->   [[name, start, end], ...]
//
// The file is parsed with acorn (pinned in package-lock.json, installed by `npm ci`), as a
// script and, if that fails, as a module. A function is named by how the code defines it:
// `function f` and `var f = function` give `f`; `X.prototype.m = function`, a method `m` of
// `class X` and a property `m` of an object literal assigned to `X.prototype` give `X.m`;
// `a.b.m = function` and any other object-literal property give `m` (a named function
// expression is named by where it is put, as Babel's output names every one). Functions defined
// inside a named function are prefixed with its name (`runInContext.safeGet`); anonymous
// ones (a UMD wrapper, an IIFE, a callback) are not functions here, only their contents.
"use strict";
const acorn = require(process.argv[2]);

function parse(source) {
  const options = {
    ecmaVersion: "latest",
    locations: true,
    allowHashBang: true,
    allowReturnOutsideFunction: true,
  };
  try {
    return acorn.parse(source, { ...options, sourceType: "script" });
  } catch (scriptError) {
    return acorn.parse(source, { ...options, sourceType: "module" });
  }
}

function isFunction(node) {
  return (
    node &&
    (node.type === "FunctionExpression" ||
      node.type === "ArrowFunctionExpression" ||
      node.type === "FunctionDeclaration")
  );
}

function keyName(key, computed) {
  if (!key) return null;
  if (key.type === "Identifier" && !computed) return key.name;
  if (key.type === "Literal" && typeof key.value === "string") return key.value;
  if (key.type === "PrivateIdentifier") return "#" + key.name;
  return null;
}

// the name an assignment target gives: `X.prototype.m` -> X.m, `a.b.m` -> m, `f` -> f
function targetName(target) {
  if (target.type === "Identifier") return target.name;
  if (target.type !== "MemberExpression") return null;
  const last = keyName(target.property, target.computed);
  if (last === null) return null;
  const owner = target.object;
  if (
    owner.type === "MemberExpression" &&
    keyName(owner.property, owner.computed) === "prototype" &&
    owner.object.type === "Identifier"
  ) {
    return owner.object.name + "." + last;
  }
  return last;
}

// `X.prototype = {...}` and `X.prototype = Object.assign(...)`-free literals: X
function prototypeOwner(target) {
  if (
    target.type === "MemberExpression" &&
    keyName(target.property, target.computed) === "prototype" &&
    target.object.type === "Identifier"
  ) {
    return target.object.name;
  }
  return null;
}

const found = [];

function emit(name, node, prefix) {
  found.push([prefix + name, node.loc.start.line, node.loc.end.line]);
  return prefix + name + ".";
}

function visit(node, prefix, owner) {
  if (!node || typeof node.type !== "string") return;
  switch (node.type) {
    case "FunctionDeclaration":
    case "FunctionExpression":
    case "ArrowFunctionExpression": {
      const inner = node.id ? emit(node.id.name, node, prefix) : prefix;
      visitChildren(node, inner, null);
      return;
    }
    case "VariableDeclarator":
      if (isFunction(node.init) && node.id.type === "Identifier") {
        visitChildren(node.init, emit(node.id.name, node.init, prefix), null);
        return;
      }
      break;
    case "AssignmentExpression": {
      const name = targetName(node.left);
      if (isFunction(node.right) && name !== null) {
        visitChildren(node.right, emit(name, node.right, prefix), null);
        return;
      }
      if (node.right.type === "ObjectExpression") {
        visit(node.left, prefix, null);
        visit(node.right, prefix, prototypeOwner(node.left));
        return;
      }
      break;
    }
    case "ObjectExpression":
      for (const property of node.properties) {
        const name = property.type === "Property" ? keyName(property.key, property.computed) : null;
        if (name !== null && isFunction(property.value)) {
          const qualified = owner ? owner + "." + name : name;
          visitChildren(property.value, emit(qualified, property.value, prefix), null);
        } else {
          visit(property, prefix, null);
        }
      }
      return;
    case "ClassDeclaration":
    case "ClassExpression": {
      const className = node.id ? node.id.name : null;
      for (const member of node.body.body) {
        const name = keyName(member.key, member.computed);
        if (member.type === "MethodDefinition" && name !== null) {
          const qualified = className ? className + "." + name : name;
          visitChildren(member.value, emit(qualified, member.value, prefix), null);
        } else {
          visit(member, prefix, null);
        }
      }
      return;
    }
    default:
      break;
  }
  visitChildren(node, prefix, null);
}

function visitChildren(node, prefix, owner) {
  for (const key of Object.keys(node)) {
    if (key === "loc" || key === "start" || key === "end") continue;
    const value = node[key];
    if (Array.isArray(value)) {
      for (const item of value) visit(item, prefix, owner);
    } else if (value && typeof value.type === "string") {
      visit(value, prefix, owner);
    }
  }
}

const chunks = [];
process.stdin.on("data", (chunk) => chunks.push(chunk));
process.stdin.on("end", () => {
  visit(parse(Buffer.concat(chunks).toString("utf8")), "", null);
  process.stdout.write(JSON.stringify(found));
});
