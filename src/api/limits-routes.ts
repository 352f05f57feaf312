/**
 * `GET/PUT/DELETE /v1/services/{name}/limits`: the traffic policy in effect, replaced at runtime or
 * reset to the config's, like the traffic rules (`/rules`): the answer comes once every gateway worker
 * routes by the new policy (202 with `routesPending` when the gateway did not take it; see route-push.ts).
 */
import type http from 'node:http';
import { type Access, operate, READ } from '../auth/roles.ts';
import { validatePolicyBody } from '../config/traffic-policy.ts';
import type { ServiceConfig } from '../config/types.ts';
import type { Controller } from '../controller/controller.ts';
import type { RuntimePolicy } from '../core/model.ts';
import { effectivePolicy, setPolicy } from '../core/policy.ts';
import type { Handler } from './body.ts';
import { readJson } from './body.ts';
import { invalid } from './errors.ts';
import { type PolicyView, policyView } from './policy-view.ts';
import { changeThenAnswer } from './route-push.ts';

/** Same shape as the control API's routes (routes.ts): method, path pattern, handler, access. */
export type LimitsRoute = [string, RegExp, Handler, Access];

/** The answer of every limits route. */
export interface LimitsAnswer extends PolicyView {
  service: string;
}

const PATH = /^\/v1\/services\/(?<name>[^/]+)\/limits$/;

export function limitsRoutes(c: Controller, need: (name: string) => ServiceConfig): LimitsRoute[] {
  const answer = (name: string): LimitsAnswer => ({
    service: name,
    ...policyView(effectivePolicy(need(name), c.state(name))),
  });
  const change = (name: string, res: http.ServerResponse, next: RuntimePolicy | undefined) =>
    changeThenAnswer(
      c,
      res,
      name,
      (_svc, s) => setPolicy(s, next),
      () => answer(name),
    );
  return [
    ['GET', PATH, async (_q, _s, p) => answer(p.name), READ],
    [
      'PUT',
      PATH,
      async (req, res, p) => {
        need(p.name);
        // The body is the policy itself, with the service config's keys: issues name them as the file does.
        const v = validatePolicyBody(await readJson(req));
        if (!v.ok) throw invalid(v.issues);
        const next: RuntimePolicy = { loadBalancer: v.loadBalancer };
        if (v.policy !== undefined) next.policy = v.policy;
        return change(p.name, res, next);
      },
      operate('limits.set'),
    ],
    [
      'DELETE',
      PATH,
      async (_q, res, p) => {
        need(p.name);
        return change(p.name, res, undefined);
      },
      operate('limits.reset'),
    ],
  ];
}
