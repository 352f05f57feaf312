import type { MetricResult } from '../analysis/engine.ts';
import { latestResults } from '../analysis/run.ts';
import type { AnalysisConfig, TrafficConfig } from '../config/types.ts';
import type { Controller } from '../controller/controller.ts';
import { describeStep } from '../core/canary.ts';
import type { Rollout, ServicePhase } from '../core/model.ts';
import { effectivePolicy } from '../core/policy.ts';
import { analysesOf } from '../core/rollout.ts';
import { effectiveTraffic } from '../core/traffic.ts';
import { type PolicyView, policyView } from './policy-view.ts';

/** One instance as `cutover status` shows it. */
export interface InstanceView {
  id: string;
  revision: number;
  version: string;
  port: number;
  pid?: number;
  /** starting, ready, draining, backoff (crashed, waiting to restart). */
  state: 'starting' | 'ready' | 'draining' | 'backoff';
  restarts: number;
  readySince?: number;
  lastProbeError?: string;
}

export type RolloutView = Rollout & {
  version: string;
  /** Live instances of the target revision / available among them / old ones left / draining. */
  progress: { current: number; available: number; old: number; draining: number; replicas: number };
};

/** A revision with a role and its instance counts. */
export interface RoleView {
  revision: number;
  version: string;
  ready: number;
  instances: number;
}

export interface ServiceStatus {
  name: string;
  phase: ServicePhase;
  message?: string;
  strategy: string;
  replicas: number;
  route: { host: string; pathPrefix: string };
  stable: { revision: number; version: string };
  rollout?: RolloutView;
  lastRollout?: Rollout;
  /** Revisions by role: stable always; canary or preview while such a rollout runs. */
  roles: { stable: RoleView; canary?: RoleView; preview?: RoleView };
  /** Canary: current split in percent. */
  weights?: { stable: number; canary: number };
  /** Canary: 1-based current step, total, its description and what it waits for. */
  step?: { index: number; total: number; current: string; waitingFor?: string; steps: string[] };
  mirror?: { percent: number; methods?: string[]; pathPrefix?: string };
  /** Latest verdict per metric of the running analyses (background and step). */
  analysis?: Array<{
    kind: 'rollout' | 'step';
    stage?: 'pre' | 'post';
    phase: string;
    message: string;
    metrics: MetricResult[];
  }>;
  /** Gating hooks of the running rollout. */
  hooks?: Rollout['hooks'];
  /** Traffic rules in effect and where they come from. */
  traffic?: TrafficConfig & { source: 'config' | 'runtime' };
  /** Traffic policy in effect (balancer, limits, outliers, timeouts, retries) and where it comes from. */
  policy?: PolicyView;
  /** The TLS certificate serving the route's host (with `gateway.tls`), as the gateway last reported it. */
  certificate?: {
    source: 'static' | 'acme';
    state?: string;
    notAfter?: string;
    renewAt?: string;
    error?: string;
  };
  instances: InstanceView[];
}

/** The status document of one service (the API's and the CLI's view). */
export function serviceStatus(c: Controller, name: string): ServiceStatus | undefined {
  const svc = c.service(name);
  const state = c.state(name);
  if (!svc || !state) return undefined;
  const instances: InstanceView[] = c.instances(name).map((i) => ({
    id: i.id,
    revision: i.revision,
    version: i.version,
    port: i.port,
    pid: i.pid,
    state: c.isLeaving(i.id)
      ? 'draining'
      : i.phase === 'backoff'
        ? 'backoff'
        : i.ready && i.phase === 'running'
          ? 'ready'
          : 'starting',
    restarts: i.restarts,
    readySince: i.readySince,
    lastProbeError: i.lastProbeError,
  }));
  instances.sort((a, b) => a.revision - b.revision || (a.id < b.id ? -1 : 1));
  const stableRev = state.revisions.find((r) => r.number === state.stable);
  let rollout: RolloutView | undefined;
  if (state.rollout) {
    const to = state.rollout.to;
    const live = instances.filter((i) => i.state !== 'draining');
    rollout = {
      ...state.rollout,
      version: state.revisions.find((r) => r.number === to)?.version ?? '?',
      progress: {
        current: live.filter((i) => i.revision === to).length,
        available: live.filter((i) => i.revision === to && i.state === 'ready').length,
        old: live.filter((i) => i.revision !== to).length,
        draining: instances.length - live.length,
        replicas: svc.replicas,
      },
    };
  }
  const role = (revision: number): RoleView => ({
    revision,
    version: state.revisions.find((r) => r.number === revision)?.version ?? '?',
    ready: instances.filter((i) => i.revision === revision && i.state === 'ready').length,
    instances: instances.filter((i) => i.revision === revision && i.state !== 'draining').length,
  });
  const roles: ServiceStatus['roles'] = { stable: role(state.stable) };
  const r = state.rollout;
  const strategy = svc.strategy;
  let weights: ServiceStatus['weights'];
  let step: ServiceStatus['step'];
  if (r?.strategy === 'canary' && r.kind === 'drill') {
    roles.canary = role(r.to);
    weights = { stable: 100 - r.canaryWeight, canary: r.canaryWeight };
  } else if (r?.strategy === 'canary' && strategy.type === 'canary') {
    roles.canary = role(r.to);
    const w = r.canaryWeight;
    weights = { stable: 100 - w, canary: w };
    const i = r.stepIndex;
    step = {
      index: Math.min(i + 1, strategy.steps.length),
      total: strategy.steps.length,
      current: i < strategy.steps.length ? describeStep(strategy.steps[i]) : 'promotion',
      waitingFor: r.waitingFor,
      steps: strategy.steps.map(describeStep),
    };
  } else if (r?.strategy === 'blueGreen' && strategy.type === 'blueGreen') {
    if (r.switchedAt === undefined) roles.preview = role(r.to);
    else roles.stable = role(r.to);
  }
  const traffic =
    strategy.type === 'canary'
      ? {
          ...effectiveTraffic(svc, state),
          source: state.traffic ? ('runtime' as const) : ('config' as const),
        }
      : undefined;
  return {
    name,
    phase: state.phase,
    message: state.message,
    strategy: svc.strategy.type,
    replicas: svc.replicas,
    route: svc.route,
    stable: { revision: state.stable, version: stableRev?.version ?? '?' },
    rollout,
    lastRollout: state.lastRollout,
    roles,
    weights,
    step,
    mirror: r?.strategy === 'canary' ? r.mirror : undefined,
    analysis: analysisViews(svc.analysis, r),
    hooks: r?.hooks,
    traffic,
    policy: policyView(effectivePolicy(svc, state)),
    certificate: certificateView(c, svc.route.host),
    instances,
  };
}

function certificateView(c: Controller, host: string): ServiceStatus['certificate'] {
  const cert = c.certs?.forHost(host);
  if (cert === undefined) return undefined;
  const view: NonNullable<ServiceStatus['certificate']> = { source: cert.source };
  if (cert.state !== undefined) view.state = cert.state;
  if (cert.notAfter !== undefined) view.notAfter = cert.notAfter;
  if (cert.renewAt !== undefined) view.renewAt = cert.renewAt;
  if (cert.error !== undefined) view.error = cert.error;
  return view;
}

function analysisViews(cfg: AnalysisConfig | undefined, r: Rollout | undefined): ServiceStatus['analysis'] {
  if (!cfg || !r) return undefined;
  const out: NonNullable<ServiceStatus['analysis']> = [];
  const { analysis, stepAnalysis } = analysesOf(r);
  if (analysis) {
    out.push({
      kind: 'rollout',
      stage: r.strategy === 'blueGreen' ? r.analysisStage : undefined,
      phase: analysis.phase,
      message: analysis.message,
      metrics: latestResults(cfg, analysis),
    });
  }
  if (stepAnalysis) {
    out.push({
      kind: 'step',
      phase: stepAnalysis.phase,
      message: stepAnalysis.message,
      metrics: latestResults(cfg, stepAnalysis),
    });
  }
  return out.length ? out : undefined;
}
