/**
 * The answer of a change that moves traffic (promote, abort, weight, rules, limits): it comes once every
 * gateway worker routes by the new state. The change is saved before the push, so when the gateway does
 * not take the routes (restarting, hung) it is not lost: the answer is 202 with `routesPending` saying
 * why, and the controller pushes the routes again on its next tick.
 */
import type http from 'node:http';
import type { Controller } from '../controller/controller.ts';
import { ApiError } from './errors.ts';

/** Longest an answer waits for the gateway to take the routes. */
export const ROUTES_ANSWER_WAIT_MS = 5_000;

/** What an answer carries when the gateway has not taken the routes of a saved change yet. */
export interface RoutesPending {
  routesPending: string;
}

/**
 * Runs `change` on service `name` (409 when refused), then pushes the routes: the answer is `answer()`,
 * with `routesPending` (and 202) when the gateway did not take them.
 */
export async function changeThenAnswer<T extends object>(
  c: Controller,
  res: http.ServerResponse,
  name: string,
  change: Parameters<Controller['run']>[1],
  answer: () => T,
): Promise<T & Partial<RoutesPending>> {
  const r = c.run(name, change);
  if (!r.ok) throw new ApiError(409, r.code, r.message);
  const pending = await pushRoutes(c, res);
  return { ...answer(), ...pending };
}

/** Pushes the routes; on failure sets 202 on `res` and returns the field the answer carries. */
async function pushRoutes(
  c: Controller,
  res: http.ServerResponse,
  waitMs = ROUTES_ANSWER_WAIT_MS,
): Promise<RoutesPending | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${waitMs / 1000} s`), waitMs);
  });
  const pushed = c.syncRoutes().then(
    () => null,
    (err: unknown) => (err as Error).message,
  );
  const failure = await Promise.race([pushed, late]);
  clearTimeout(timer);
  if (failure === null) return undefined;
  res.statusCode = 202;
  return {
    routesPending:
      `saved, but the gateway did not take the new routes yet (${failure}); ` +
      'the controller pushes them again on its next tick',
  };
}
