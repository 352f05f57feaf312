/** Shared by the config unit tests: parse a config text, then look at the config or at its issues. */
import assert from 'node:assert/strict';
import { formatIssues, parseConfig } from './load.ts';
import type { ConfigIssue, CutoverConfig } from './types.ts';

/** The base directory relative paths resolve against in these tests. */
export const TEST_BASE_DIR = '/srv';

export function parseOk(text: string): CutoverConfig {
  const r = parseConfig(text, { baseDir: TEST_BASE_DIR });
  if (!r.ok) assert.fail(formatIssues(r.issues));
  return r.config;
}

export function issues(text: string): ConfigIssue[] {
  const r = parseConfig(text, { baseDir: TEST_BASE_DIR });
  assert.equal(r.ok, false, 'expected issues');
  return r.ok ? [] : r.issues;
}

/** `line: path: message` */
export const lines = (is: ConfigIssue[]) => is.map((i) => `${i.line}: ${i.path}: ${i.message}`);
/** `line: path` */
export const where = (is: ConfigIssue[]) => is.map((i) => `${i.line}: ${i.path}`);

/** `block` (trimmed) with every line prefixed by `prefix`, to nest it under a key of a YAML text. */
export function indent(block: string, prefix: string): string {
  return block
    .trim()
    .split('\n')
    .map((l) => `${prefix}${l}`)
    .join('\n');
}
