/**
 * How a gateway master is started: from one JavaScript file bundled from its sources (worker-js.ts, as
 * its workers are), so the master does not pay Node's type stripping (~38 MB of RSS a process that ran
 * .ts never gives back). A bundle lives in node_modules/.cache, not beside the sources, so it is told
 * where they are (CUTOVER_GATEWAY_SRC): it forks its workers from them and bundles them again for a
 * master re-exec, so a reload runs the sources as they are on disk then, as with the .ts.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleScript } from './worker-js.ts';

/** The directory of the gateway's .ts sources, for a master running from a bundle. */
export const GATEWAY_SRC_ENV = 'CUTOVER_GATEWAY_SRC';

const HERE = fileURLToPath(import.meta.url);

/** A file of the gateway's sources (`main.ts`, `worker.ts`), wherever this master runs from. */
export function gatewaySource(file: string, env: NodeJS.ProcessEnv = process.env): string {
  const dir = env[GATEWAY_SRC_ENV];
  if (dir !== undefined && dir !== '') return path.join(dir, file);
  if (!HERE.endsWith('.ts'))
    throw new Error(
      `a gateway master run from a bundle (${HERE}) needs ${GATEWAY_SRC_ENV} set to its sources`,
    );
  return path.join(path.dirname(HERE), file);
}

/**
 * The script to start a master from, with what its environment must add: the bundle of `main`, or
 * `main` itself when no bundle can be made (`warn` says why: a read-only install, esbuild missing).
 */
export function masterLaunch(
  main: string,
  warn: (message: string, error: string) => void,
): { script: string; env: Record<string, string> } {
  const env = { [GATEWAY_SRC_ENV]: path.dirname(main) };
  try {
    return { script: bundleScript(main, path.resolve(path.dirname(main), '..', '..')), env };
  } catch (err) {
    warn('the gateway master runs from TypeScript (more memory)', (err as Error).message);
    return { script: main, env };
  }
}
