#!/usr/bin/env node
// Enforces the layer table of DESIGN.md section 3: each folder under src/ may import only the
// folders listed for it. `errors/` is the shared leaf (it imports nothing) every layer may use,
// except crypto/ and storage/, which stay free of Keyward types.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const root = resolve(import.meta.dirname, '..', 'src');
const ALLOWED = {
  errors: [],
  crypto: [],
  storage: [],
  config: [],
  format: ['crypto', 'errors'],
  barrier: ['crypto', 'format', 'storage', 'errors'],
  seal: ['crypto', 'barrier', 'format', 'errors'],
  keyring: ['crypto', 'format', 'barrier', 'errors'],
  authz: ['keyring', 'crypto', 'errors'],
  audit: ['crypto', 'barrier', 'storage', 'format', 'errors'],
  pki: ['crypto', 'keyring', 'errors'],
  operations: ['crypto', 'format', 'storage', 'barrier', 'seal', 'keyring', 'authz', 'audit', 'pki', 'errors'],
  'api/http': ['operations', 'errors'],
  'api/grpc': ['operations', 'errors'],
  'api/minikms': ['operations', 'errors'],
  // the Kubernetes KMS plugin is a gRPC service: it reuses api/grpc's server helpers
  'api/k8s': ['operations', 'errors', 'api/grpc'],
  client: ['format', 'crypto'],
  cli: ['client', 'config', 'errors'],
  // the web console runs in the browser: it is a client of the public API, nothing of ours
  ui: [],
};
// Files at the top of src/ are the composition root and may import anything.
const ROOT_FILES = true;

function layerOf(file) {
  const rel = relative(root, file).split(sep);
  if (rel.length === 1) return ROOT_FILES ? '' : rel[0];
  if (rel[0] === 'api') return `api/${rel[1]}`;
  return rel[0];
}

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (p.endsWith('.ts') || p.endsWith('.tsx')) yield p;
  }
}

const problems = [];
const importRe = /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
for (const file of walk(root)) {
  const layer = layerOf(file);
  if (layer === '') continue;
  const allowed = ALLOWED[layer];
  if (allowed === undefined) {
    problems.push(`${relative(root, file)}: folder '${layer}' is not in the layer table (scripts/check-layers.mjs)`);
    continue;
  }
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(importRe)) {
    const spec = m[1] ?? m[2];
    if (!spec.startsWith('.')) continue;
    const target = resolve(dirname(file), spec);
    if (!target.startsWith(root)) continue;
    const targetLayer = layerOf(target.replace(/\.js$/, '.ts'));
    if (targetLayer === layer) continue;
    // cli's server command wires everything: it may import the composition root
    if (targetLayer === '' && layer === 'cli') continue;
    if (targetLayer === '' || !allowed.includes(targetLayer)) {
      problems.push(`${relative(root, file)} imports ${spec} (${targetLayer || 'composition root'}): '${layer}' may import only [${allowed.join(', ')}]`);
    }
  }
}
if (problems.length > 0) {
  console.error(`layer check failed (${problems.length}):\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('layer check: ok');
