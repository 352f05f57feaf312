/**
 * The OpenAPI 3.1 description of the control API, served at GET /openapi.json. A test checks
 * that every route the server has is described here and every operation here is served.
 */

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Schema) => ({ 'application/json': { schema } });
const ok = (description: string, schema: Schema = { type: 'object' }) => ({
  description,
  content: json(schema),
});
const errors = {
  '400': { description: 'Invalid request (every problem as `path: message`)', content: json(ref('Error')) },
  '401': { description: 'No or unknown token', content: json(ref('Error')) },
  '403': { description: 'The token may not do this', content: json(ref('Error')) },
  '404': { description: 'Unknown service or resource', content: json(ref('Error')) },
  '409': {
    description: 'Refused in the current state (e.g. a rollout in progress)',
    content: json(ref('Error')),
  },
  '429': { description: 'Too many failed authentications', content: json(ref('Error')) },
};
const ROUTES_PENDING = {
  description:
    'Saved, but the gateway did not take the new routes yet: the body is the 200 one plus `routesPending` (why); the controller pushes the routes again on its next tick',
  content: json({ type: 'object' }),
};
const service = {
  name: 'name',
  in: 'path',
  required: true,
  schema: { type: 'string' },
  description: 'Service name',
};

type QueryParam = { name: string; schema: Schema; description: string };
const ONLY_SERVICE: QueryParam = {
  name: 'service',
  schema: { type: 'string' },
  description: 'Only this service',
};
const newest = (description: string): QueryParam => ({
  name: 'limit',
  schema: { type: 'integer' },
  description,
});

interface Op {
  summary: string;
  role: 'public' | 'viewer' | 'deployer' | 'admin';
  body?: Schema;
  query?: QueryParam[];
  response?: Schema;
  produces?: string;
  /** Moves traffic: 202 with `routesPending` when the gateway did not take the routes (route-push.ts). */
  routes?: true;
}

const OPS: Record<string, Record<string, Op>> = {
  '/healthz': { get: { summary: 'Liveness of the controller', role: 'public' } },
  '/openapi.json': { get: { summary: 'This document', role: 'viewer' } },
  '/metrics': {
    get: { summary: 'Prometheus exposition (text format 0.0.4)', role: 'viewer', produces: 'text/plain' },
  },
  '/v1/services': { get: { summary: 'Status of every service', role: 'viewer' } },
  '/v1/services/{name}': {
    get: { summary: 'Status of one service', role: 'viewer', response: ref('ServiceStatus') },
  },
  '/v1/services/{name}/deploy': {
    post: {
      summary: 'Create revision N+1 with this version (and run overrides) and roll it out',
      role: 'deployer',
      body: {
        type: 'object',
        required: ['version'],
        additionalProperties: false,
        properties: {
          version: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,128}$' },
          set: {
            type: 'array',
            items: { type: 'string' },
            description: 'run.env.KEY=VALUE, run.command=..., run.cwd=...',
          },
        },
      },
    },
  },
  '/v1/services/{name}/undo': {
    post: {
      summary: 'Roll back to the previous good revision, or toRevision',
      role: 'deployer',
      body: {
        type: 'object',
        additionalProperties: false,
        properties: { toRevision: { type: 'integer', minimum: 1 } },
      },
    },
  },
  '/v1/services/{name}/promote': {
    post: {
      summary: 'Canary: pass the current pause (full: skip all steps). Blue-green: switch to the preview',
      role: 'deployer',
      routes: true,
      body: { type: 'object', additionalProperties: false, properties: { full: { type: 'boolean' } } },
    },
  },
  '/v1/services/{name}/abort': {
    post: { summary: 'All traffic back to stable; the new revision drains', role: 'deployer', routes: true },
  },
  '/v1/services/{name}/pause': {
    post: { summary: 'Freeze the rollout steps', role: 'deployer', routes: true },
  },
  '/v1/services/{name}/resume': {
    post: { summary: 'Continue a paused rollout', role: 'deployer', routes: true },
  },
  '/v1/services/{name}/retry': {
    post: { summary: 'Start the last failed/aborted rollout again', role: 'deployer', routes: true },
  },
  '/v1/services/{name}/weight': {
    put: {
      summary: "Set a running canary's share of traffic now",
      role: 'deployer',
      routes: true,
      body: {
        type: 'object',
        required: ['weight'],
        properties: { weight: { type: 'number', minimum: 0, maximum: 100 } },
      },
    },
  },
  '/v1/services/{name}/rules': {
    put: {
      summary: 'Replace the traffic rules at runtime (same schema as the config key `traffic`)',
      role: 'deployer',
      routes: true,
      body: { type: 'object', required: ['traffic'], properties: { traffic: ref('Traffic') } },
    },
    delete: { summary: "Go back to the config file's traffic rules", role: 'deployer', routes: true },
  },
  '/v1/services/{name}/limits': {
    get: {
      summary:
        'The traffic policy in effect (loadBalancer, limits, outlierDetection, timeouts, retries in the config file shape), its source (config or runtime) and a one-line summary',
      role: 'viewer',
      response: ref('PolicyView'),
    },
    put: {
      summary:
        'Replace the whole traffic policy at runtime (the body has the service config keys and is validated like them; a key left out is off); answers once every gateway worker applies it',
      role: 'deployer',
      routes: true,
      body: ref('Policy'),
      response: ref('PolicyView'),
    },
    delete: {
      summary: "Go back to the config file's traffic policy",
      role: 'deployer',
      routes: true,
      response: ref('PolicyView'),
    },
  },
  '/v1/services/{name}/history': {
    get: {
      summary:
        'Revisions and their outcome, each with the analysis summary of its last rollout (verdict per metric, samples, time to verdict)',
      role: 'viewer',
    },
  },
  '/v1/services/{name}/drill': {
    post: {
      summary:
        'Start a rollback drill: a canary of the stable revision whose responses get an injected fault; analysis should take it back. Answers the report (state running)',
      role: 'deployer',
      body: {
        type: 'object',
        properties: {
          fault: { type: 'string', description: 'errors:N% (default errors:5%) or latency:DURATION[@N%]' },
          weight: {
            type: 'number',
            exclusiveMinimum: 0,
            maximum: 100,
            description: 'canary share, default 20',
          },
          timeout: { type: 'string', description: 'analysis must abort within this (default 60s)' },
        },
      },
    },
    get: {
      summary:
        'The running or last drill: state (running, aborted, notAborted), time to abort, requests faulted, stable requests and errors meanwhile',
      role: 'viewer',
    },
  },
  '/v1/services/{name}/logs': {
    get: {
      summary: 'Instance logs as text lines `instance | line`',
      role: 'viewer',
      produces: 'text/plain',
      query: [
        { name: 'instance', schema: { type: 'string' }, description: 'One instance (live or stopped)' },
        { name: 'tail', schema: { type: 'integer' }, description: 'Last N lines per instance (default 100)' },
        { name: 'follow', schema: { enum: ['1'] }, description: 'Keep streaming' },
      ],
    },
  },
  '/v1/services/{name}/logs/files': {
    get: {
      summary: 'Instances with a log file, live or stopped, newest first (instance, modifiedAt, live)',
      role: 'viewer',
    },
  },
  '/v1/config': {
    post: {
      summary: 'Apply a config file (validated; diffed; live changes, new revisions, added/removed services)',
      role: 'admin',
      body: {
        type: 'object',
        required: ['yaml'],
        additionalProperties: false,
        properties: { yaml: { type: 'string' }, file: { type: 'string' }, dryRun: { type: 'boolean' } },
      },
    },
  },
  '/v1/gateway/reload': {
    post: {
      summary:
        'Reload the gateway without dropping a connection: a new worker generation on the same socket, or (master) a new master process inheriting it',
      role: 'admin',
      body: { type: 'object', additionalProperties: false, properties: { master: { type: 'boolean' } } },
    },
  },
  '/v1/certs': {
    get: {
      summary:
        'The certificates the gateway serves: hosts, source (static/acme), issuer, not-after, next renewal, last error',
      role: 'viewer',
    },
  },
  '/v1/certs/renew': {
    post: {
      summary: 'Force an ACME renewal of a host certificate; answers once the new certificate serves',
      role: 'admin',
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['host'],
        properties: { host: { type: 'string' } },
      },
    },
  },
  '/v1/events': {
    get: {
      summary: 'The event log',
      role: 'viewer',
      query: [ONLY_SERVICE, newest('Newest N (default 100)')],
    },
  },
  '/v1/stream': {
    get: {
      summary:
        'Server-sent events: `status` (a service status when it changes), `removed` (a service that apply removed) and `event` (new log events)',
      role: 'viewer',
      produces: 'text/event-stream',
      query: [ONLY_SERVICE],
    },
  },
  '/v1/tokens': {
    get: { summary: 'List tokens (never the secrets)', role: 'admin' },
    post: {
      summary: 'Create a token; the response carries it once',
      role: 'admin',
      body: {
        type: 'object',
        required: ['name', 'role'],
        properties: {
          name: { type: 'string' },
          role: { enum: ['viewer', 'deployer', 'admin'] },
          services: { type: 'array', items: { type: 'string' } },
        },
      },
    },
  },
  '/v1/tokens/{token}': {
    delete: {
      summary: 'Revoke a token by name',
      role: 'admin',
    },
  },
  '/v1/audit': {
    get: {
      summary: 'Audit trail (hash-chained)',
      role: 'admin',
      query: [ONLY_SERVICE, newest('Newest N')],
    },
  },
  '/v1/audit/verify': {
    get: { summary: 'Recompute the hash chain; report the first edited or deleted entry', role: 'admin' },
  },
  '/v1/traffic': {
    get: {
      summary:
        'Live traffic per revision over the last ~2 s: requests/s, error rate, p50/p99 latency (bucket bounds, ms), cumulative requests; in-flight per instance',
      role: 'viewer',
      query: [ONLY_SERVICE],
    },
  },
  '/v1/session': {
    post: {
      summary:
        'Dashboard sign-in: exchange a token for a session cookie (HttpOnly, SameSite=Strict, Secure under TLS). Answers the principal and the CSRF token to send as X-CSRF-Token with every unsafe cookie-authenticated request; refused cross-site (Origin, Sec-Fetch-Site)',
      role: 'public',
      body: { type: 'object', required: ['token'], properties: { token: { type: 'string' } } },
    },
    get: {
      summary: 'Whether the session cookie is signed in: signedIn, name, role, services, csrf',
      role: 'public',
    },
    delete: { summary: 'Sign out: end the cookie session', role: 'viewer' },
  },
};

/** The OpenAPI document. */
export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [p, ops] of Object.entries(OPS)) {
    paths[p] = {};
    for (const [method, op] of Object.entries(ops)) {
      const params: Schema[] = [];
      if (p.includes('{name}')) params.push(service);
      if (p.includes('{token}'))
        params.push({ name: 'token', in: 'path', required: true, schema: { type: 'string' } });
      for (const q of op.query ?? []) params.push({ in: 'query', ...q });
      paths[p][method] = {
        summary: op.summary,
        'x-cutover-role': op.role,
        security: op.role === 'public' ? [] : [{ bearer: [] }],
        parameters: params,
        ...(op.body ? { requestBody: { required: true, content: json(op.body) } } : {}),
        responses: {
          '200': op.produces
            ? { description: 'OK', content: { [op.produces]: { schema: { type: 'string' } } } }
            : ok('OK', op.response),
          ...(op.routes ? { '202': ROUTES_PENDING } : {}),
          ...(op.role === 'public' ? {} : errors),
        },
      };
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Cutover control API',
      version,
      description:
        'Everything the cutover CLI does. Authenticate with `Authorization: Bearer <token>` (or, in a browser, the dashboard session cookie of POST /v1/session plus `X-CSRF-Token` on unsafe methods); roles: viewer (read), deployer (release operations on its services), admin (everything). Errors are `{"error":{"code","message"}}`.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} },
            },
          },
        },
        ServiceStatus: {
          type: 'object',
          required: ['name', 'phase', 'strategy', 'stable', 'instances'],
          properties: {
            name: { type: 'string' },
            phase: { enum: ['Healthy', 'Progressing', 'Paused', 'Degraded', 'Aborted'] },
            strategy: { enum: ['rolling', 'blueGreen', 'canary'] },
            stable: { type: 'object' },
            rollout: { type: 'object' },
            weights: { type: 'object' },
            step: { type: 'object' },
            analysis: { type: 'array' },
            instances: { type: 'array' },
          },
        },
        Policy: {
          type: 'object',
          additionalProperties: false,
          properties: {
            loadBalancer: {
              description:
                'roundRobin | leastInFlight | random | p2c | hash, or { type, key } (key: hash only)',
            },
            limits: {
              type: 'object',
              properties: {
                rate: { type: 'object', description: '{ requests, per, burst, key }' },
                maxInFlightPerInstance: { type: 'integer', minimum: 1 },
                queueTimeout: { type: 'string' },
                maxConnectionsPerClient: { type: 'integer', minimum: 1 },
              },
            },
            outlierDetection: { type: 'object' },
            timeouts: { type: 'object', properties: { request: { type: 'string' } } },
            retries: { type: 'object', properties: { attempts: { type: 'integer' }, budget: {} } },
          },
        },
        PolicyView: {
          type: 'object',
          required: ['service', 'source', 'summary', 'policy'],
          properties: {
            service: { type: 'string' },
            source: { enum: ['config', 'runtime'] },
            summary: { type: 'string' },
            policy: ref('Policy'),
          },
        },
        Traffic: {
          type: 'object',
          properties: {
            stickyBy: { type: 'string', description: 'header:NAME | cookie:NAME | query:NAME' },
            rules: { type: 'array', items: { type: 'object', required: ['match', 'to'] } },
          },
        },
      },
    },
    paths,
  };
}

/** Sample concrete paths for every operation (tests use them to match the routes). */
export function describedOperations(): Array<{ method: string; path: string }> {
  const out: Array<{ method: string; path: string }> = [];
  for (const [p, ops] of Object.entries(OPS)) {
    for (const method of Object.keys(ops)) {
      out.push({ method: method.toUpperCase(), path: p.replace('{name}', 'web').replace('{token}', 'ci') });
    }
  }
  return out;
}
