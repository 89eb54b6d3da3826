/** The one validation module (STYLE rule 4): stack layout, manifest and content rules, shared by sync, lint and HTTP. */
export * from './rules.js';
export * from './manifest-problem.js';
export * from './stack-layout.js';
export * from './stack-manifest.js';
export * from './stack-content.js';
export * from './duplicate-names.js';
export * from './tree-entry-check.js';
export * from './build-stack.js';
export * from './rollout-manifest.js';
export * from './dependency-graph.js';
export { loadYamlDocuments, MAX_ALIAS_EXPANSION, MAX_EXPANDED_DEPTH } from './yaml-documents.js';
export { decodeText } from './text-file.js';
