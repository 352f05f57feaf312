/**
 * Loads `cutover.yaml` into a validated, fully-defaulted `CutoverConfig`, or a list of every
 * problem found, each with its dotted path and 1-based line.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import { type Ctx, newCtx, type Path } from './ctx.ts';
import { validateServiceAt } from './service.ts';
import type { ConfigIssue, CutoverConfig, ServiceConfig } from './types.ts';
import { validateRoot } from './validate.ts';

export type ConfigResult = { ok: true; config: CutoverConfig } | { ok: false; issues: ConfigIssue[] };
export type ServiceResult = { ok: true; service: ServiceConfig } | { ok: false; issues: ConfigIssue[] };

export interface ParseOptions {
  /** The file the text came from; made absolute and stored as `config.file`. */
  file?: string;
  /** Directory that relative paths (control.dataDir, run.cwd) resolve against. */
  baseDir: string;
  /** Where CUTOVER_HOST / CUTOVER_ADVERTISE are read (they override cluster.host / advertise); default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Default of cluster.host; default os.hostname(). */
  hostname?: string;
}

/** `loadConfigFile`'s view of the machine: `ParseOptions` without what the file decides. */
export type HostOptions = Pick<ParseOptions, 'env' | 'hostname'>;

/** Path used for YAML syntax errors (the problem is not at any key). */
export const SYNTAX_ISSUE_PATH = '(yaml)';
/** Path used when the file itself cannot be read. */
export const FILE_ISSUE_PATH = '(file)';

function byLine(issues: ConfigIssue[]): ConfigIssue[] {
  return issues
    .map((issue, i) => ({ issue, i }))
    .sort(
      (a, b) =>
        (a.issue.line ?? Number.MAX_SAFE_INTEGER) - (b.issue.line ?? Number.MAX_SAFE_INTEGER) || a.i - b.i,
    )
    .map((x) => x.issue);
}

/** Parses and validates config text. Never throws on bad input. */
export function parseConfig(text: string, opts: ParseOptions): ConfigResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    prettyErrors: false,
    merge: true,
    uniqueKeys: true,
    strict: true,
  });
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line;
  if (doc.errors.length > 0) {
    return {
      ok: false,
      issues: doc.errors.map((e) => ({
        path: SYNTAX_ISSUE_PATH,
        message: e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, ''),
        line: lineAt(e.pos[0]),
      })),
    };
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return { ok: false, issues: [{ path: SYNTAX_ISSUE_PATH, message }] };
  }

  /** Walks the YAML tree along `path` (list items by index); returns the deepest key line / node reached. */
  const walk = (path: Path): { keyLine?: number; node?: unknown; complete: boolean } => {
    let node: unknown = doc.contents;
    let keyLine: number | undefined;
    for (const seg of path) {
      if (isSeq(node) && /^\d+$/.test(seg)) {
        const item = node.items[Number(seg)] as Node | undefined;
        if (item === undefined) return { keyLine, complete: false };
        if (item.range) keyLine = lineAt(item.range[0]);
        node = item;
        continue;
      }
      if (!isMap(node)) return { keyLine, complete: false };
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === seg);
      if (!pair) return { keyLine, complete: false };
      const key = pair.key as Node;
      if (key.range) keyLine = lineAt(key.range[0]);
      node = pair.value;
    }
    return { keyLine, node, complete: true };
  };

  const baseDir = resolve(opts.baseDir);
  const ctx: Ctx = {
    ...newCtx(baseDir),
    line: (path) => {
      const keyLine = walk(path).keyLine;
      if (keyLine !== undefined) return keyLine;
      const start = (doc.contents as Node | null)?.range?.[0];
      return start === undefined ? undefined : lineAt(start);
    },
    source: (path) => {
      const w = walk(path);
      return w.complete && isScalar(w.node) && typeof w.node.source === 'string' ? w.node.source : undefined;
    },
  };
  const config = validateRoot(ctx, raw, opts.file === undefined ? undefined : resolve(opts.file), {
    env: opts.env ?? process.env,
    hostname: opts.hostname ?? hostname(),
  });
  if (ctx.issues.length > 0 || config === undefined) return { ok: false, issues: byLine(ctx.issues) };
  return { ok: true, config };
}

/** Reads and parses a config file; relative paths in it resolve against its directory. */
export function loadConfigFile(path: string, host: HostOptions = {}): ConfigResult {
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'is a directory'
          : code === 'EACCES'
            ? 'permission denied'
            : e instanceof Error
              ? e.message
              : String(e);
    return { ok: false, issues: [{ path: FILE_ISSUE_PATH, message: `cannot read ${file}: ${why}` }] };
  }
  return parseConfig(text, { ...host, file, baseDir: dirname(file) });
}

/**
 * Validates one service object (e.g. an API body) against the same schema as the file.
 * Issue paths start with `pathPrefix`; there are no line numbers. Route conflicts with other
 * services are not checked here (see `findRouteConflicts`).
 */
export function validateService(
  name: string,
  raw: unknown,
  baseDir: string,
  pathPrefix = `services.${name}`,
): ServiceResult {
  const ctx = newCtx(baseDir);
  const service = validateServiceAt(ctx, name, raw, pathPrefix === '' ? [] : [pathPrefix]);
  if (ctx.issues.length > 0 || service === undefined) return { ok: false, issues: ctx.issues };
  return { ok: true, service };
}

/**
 * One line per issue: `cutover.yaml:23: services.web.strategy.maxSurge: must be ...`. Without a
 * file: `services.web.strategy.maxSurge: must be ... (line 23)`.
 */
export function formatIssues(issues: readonly ConfigIssue[], file?: string): string {
  return issues.map((i) => formatIssue(i, file)).join('\n');
}

export function formatIssue(issue: ConfigIssue, file?: string): string {
  const what = issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`;
  if (file === undefined) return issue.line === undefined ? what : `${what} (line ${issue.line})`;
  return issue.line === undefined ? `${file}: ${what}` : `${file}:${issue.line}: ${what}`;
}
