/**
 * The answer of a change that moves traffic (promote, abort, weight, rules, limits): it comes once every
 * gateway worker routes by the new state. The change is saved before the push, so when the gateway does
 * not take the routes (restarting, hung) it is not lost: the answer is 202 with `routesPending` saying
 * why, and the controller pushes the routes again on its next tick.
 */
import type http from 'node:http';
import type { Controller } from '../controller/controller.ts';

/** Longest an answer waits for the gateway to take the routes. */
export const ROUTES_ANSWER_WAIT_MS = 5_000;

/** What an answer carries when the gateway has not taken the routes of a saved change yet. */
export interface RoutesPending {
  routesPending: string;
}

/** Pushes the routes; on failure sets 202 on `res` and returns the field the answer carries. */
export async function pushRoutesFor(
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
