/** `control`: the control API's listener, TLS files and the data directory. */
import { isAbsolute, resolve } from 'node:path';
import { type Ctx, report } from './ctx.ts';
import * as D from './defaults.ts';
import { CONTROL_KEYS, TLS_KEYS } from './keys.ts';
import { readListen } from './listen.ts';
import { readBool, readDir, readObj, readString } from './read.ts';
import type { ControlConfig } from './types.ts';

export function validateControl(ctx: Ctx, raw: unknown): ControlConfig {
  const path = ['control'];
  const o = readObj(ctx, path, raw, CONTROL_KEYS) ?? {};
  const control: ControlConfig = {
    listen: readListen(ctx, o, path, D.DEFAULT_CONTROL_LISTEN),
    dataDir: readDir(ctx, o, path, 'dataDir', D.DEFAULT_DATA_DIR),
    dashboard: readBool(ctx, o, path, 'dashboard', true),
  };
  if (o.tls !== undefined) {
    const tp = [...path, 'tls'];
    const t = readObj(ctx, tp, o.tls, TLS_KEYS) ?? {};
    const file = (key: 'cert' | 'key'): string => {
      const v = readString(ctx, t, tp, key, undefined);
      if (v === undefined) return '';
      if (v === '') {
        report(ctx, [...tp, key], 'must be the path of a PEM file');
        return '';
      }
      return isAbsolute(v) ? resolve(v) : resolve(ctx.baseDir, v);
    };
    control.tls = { cert: file('cert'), key: file('key') };
  }
  return control;
}
