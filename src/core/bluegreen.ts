import { startAnalysis } from '../analysis/run.ts';
import type { BlueGreenStrategy } from '../config/types.ts';
import { failRollout, succeedRollout } from './abort.ts';
import { analysisGate, type Gate, hookGate, promotionGate } from './gates.ts';
import type {
  Action,
  CoreEvent,
  ObservedInstance,
  Plan,
  Rollout,
  ServicePhase,
  ServiceSpec,
  ServiceState,
} from './model.ts';
import { drainOthers, readyCount, scaleRevision } from './scale.ts';

/**
 * One reconcile of a blue-green rollout. Before the switch the active (stable) side serves all
 * traffic at full size and the preview side starts beside it (reachable with the preview
 * header). `promote` (or autoPromote) switches every new request at once once the new side has
 * full size and is ready; the old side then stays warm, unrouted, for scaleDownDelay (abort
 * switches back instantly) and is drained after it.
 */
export function reconcileBlueGreen(
  spec: ServiceSpec,
  state: ServiceState,
  instances: ObservedInstance[],
  now: number,
): Plan {
  const strategy = spec.strategy as BlueGreenStrategy;
  const R = spec.replicas;
  let r: Rollout = state.rollout!;
  const target = r.to;
  const stable = state.stable;
  const events: CoreEvent[] = [];
  const ready = readyCount(instances, target);
  const hookActions: Action[] = [];
  // Before the switch the preview is torn down; after it, traffic switches back to the warm old side.
  const fail = (g: { reason: string; byAnalysis?: boolean }): Plan =>
    failRollout(state, r, now, g.reason, events, g.byAnalysis);

  const pre = hookGate(spec, r, 'preRollout', hookActions);
  if (pre.kind === 'fail') return fail(pre);
  if (pre.kind === 'wait') {
    r = { ...r, waitingFor: pre.reason };
    return {
      state: { ...state, rollout: r, phase: 'Progressing', message: pre.reason },
      actions: hookActions,
      events,
    };
  }
  const gate = analysisGate(r.analysis);
  if (gate.kind === 'fail') return fail(gate);

  if (r.switchedAt !== undefined) {
    if (gate.kind === 'wait') {
      // Post-promotion analysis could not decide: keep the old side warm until a human does.
      r = { ...r, waitingFor: gate.reason };
      return {
        state: { ...state, rollout: r, phase: 'Paused', message: gate.reason },
        actions: [...scaleRevision(spec.name, instances, target, R, 'scale down')],
        events,
      };
    }
    if (now - r.switchedAt >= strategy.scaleDownDelayMs) {
      return succeedRollout(spec, state, instances, now, events, 'scale down delay over');
    }
    const left = Math.ceil((r.switchedAt + strategy.scaleDownDelayMs - now) / 1000);
    r = { ...r, waitingFor: `old revision ${stable} stays warm ${left}s more (abort switches back)` };
    return {
      state: { ...state, rollout: r, phase: 'Progressing', message: `switched to revision ${target}` },
      actions: [
        ...scaleRevision(spec.name, instances, target, R, 'scale down'),
        ...drainOthers(spec.name, instances, [stable, target], 'not serving'),
      ],
      events,
    };
  }

  const auto =
    strategy.autoPromote &&
    r.previewReadyAt !== undefined &&
    now - r.previewReadyAt >= strategy.autoPromoteAfterMs;
  const promoting = r.promoteRequested === true || auto;
  // The side that takes all traffic must have full size first.
  const want = promoting ? R : Math.min(strategy.previewReplicas, R);
  const previewReady = ready >= Math.min(strategy.previewReplicas, R);
  if (previewReady && r.previewReadyAt === undefined) r = { ...r, previewReadyAt: now };
  if (!previewReady && r.previewReadyAt !== undefined) r = { ...r, previewReadyAt: undefined };

  let promotion: Gate = gate;
  if (promoting && ready >= R && promotion.kind === 'open' && !r.fullPromote) {
    promotion = promotionGate(spec.analysis, r.analysis);
  }
  if (promoting && ready >= R && promotion.kind === 'open') {
    const smoke = hookGate(spec, r, 'prePromotion', hookActions);
    if (smoke.kind === 'fail') return fail(smoke);
    promotion = smoke;
  }
  if (promoting && ready >= R && promotion.kind === 'open') {
    events.push({
      service: spec.name,
      type: 'TrafficSwitched',
      revision: target,
      message: `all traffic switched from revision ${stable} to revision ${target}`,
    });
    r = { ...r, switchedAt: now, promoteRequested: true, waitingFor: 'scale down delay' };
    // Post-promotion analysis: the new side now takes all traffic; failure switches back.
    if (spec.analysis) r = { ...r, analysis: startAnalysis(spec.analysis, now), analysisStage: 'post' };
    return {
      state: { ...state, rollout: r, phase: 'Progressing', message: `switched to revision ${target}` },
      actions: [...drainOthers(spec.name, instances, [stable, target], 'not serving')],
      events,
    };
  }

  const key = `${ready}`;
  if (key !== r.progressKey) r = { ...r, progressKey: key, lastProgressAt: now };
  if (ready < want && now - r.lastProgressAt > strategy.progressDeadlineMs) {
    return fail({
      reason: `preview revision ${target} made no progress for ${Math.round(strategy.progressDeadlineMs / 1000)}s (${ready}/${want} ready)`,
    });
  }
  let phase: ServicePhase = 'Progressing';
  let waitingFor: string;
  if (ready < want) waitingFor = `${promoting ? 'switch' : 'preview'}: ${ready}/${want} instances ready`;
  else if (promotion.kind === 'wait') {
    waitingFor = promotion.reason;
    if (gate.kind === 'wait') phase = 'Paused';
  } else if (strategy.autoPromote) waitingFor = 'auto-promote delay';
  else {
    waitingFor = 'preview ready: waiting for promote';
    phase = 'Paused';
    if (state.phase !== 'Paused') {
      events.push({ service: spec.name, type: 'RolloutPaused', revision: target, message: waitingFor });
    }
  }
  r = { ...r, waitingFor };
  const actions: Action[] = [
    ...scaleRevision(spec.name, instances, stable, R, 'scale down'),
    ...scaleRevision(spec.name, instances, target, want, 'scale down'),
    ...drainOthers(spec.name, instances, [stable, target], 'not serving'),
    ...hookActions,
  ];
  return {
    state: { ...state, rollout: r, phase, message: `preview revision ${target}: ${waitingFor}` },
    actions,
    events,
  };
}
