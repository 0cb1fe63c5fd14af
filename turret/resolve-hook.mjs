// A module-resolution hook (module.register): makes `import … from 'oct'` and 'oct/http' inside a
// user's transaction script resolve to this package, even when the script's project lives outside
// it and has no node_modules/oct. Plain JS because it runs in the loader thread before any
// TypeScript hook may apply to it.
let targets = {};

export async function initialize(data) {
  targets = data?.targets ?? {};
}

export async function resolve(specifier, context, nextResolve) {
  const url = targets[specifier];
  if (url) return { url, shortCircuit: true };
  return nextResolve(specifier, context);
}
