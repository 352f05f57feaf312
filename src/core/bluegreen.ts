import { startAnalysis } from '../analysis/run.ts';
import type { BlueGreenStrategy } from '../config/types.ts';
import { type ReconcileContext, reconcileContext } from './context.ts';
import { analysisGate, type Gate, hookGate, promotionGate } from './gates.ts';
import type {
  Action,
  BlueGreenRollout,
  ObservedInstance,
  Plan,
  ServicePhase,
  ServiceSpec,
  ServiceState,
} from './model.ts';
import { failRollout, succeedRollout } from './outcome.ts';
import { drainOthers, scaleRevision } from './scale.ts';

type BlueGreenContext = ReconcileContext<BlueGreenStrategy>;

/**
 * One reconcile of a blue-green rollout (the preRollout gate is passed). Before the switch the
 * active (stable) side serves all traffic at full size and the preview side starts beside it
 * (reachable with the preview header). `promote` (or autoPromote) switches every new request at
 * once once the new side has full size and is ready; the old side then stays warm, unrouted,
 * for scaleDownDelay (abort switches back instantly) and is drained after it.
 */
export function reconcileBlueGreen(
  spec: ServiceSpec,
  strategy: BlueGreenStrategy,
  state: ServiceState,
  rollout: BlueGreenRollout,
  instances: ObservedInstance[],
  now: number,
): Plan {
  const context = reconcileContext(spec, strategy, state, rollout.to, instances, now);
  // Before the switch the preview is torn down; after it, traffic switches back to the warm old side.
  const gate = analysisGate(rollout.analysis);
  if (gate.kind === 'fail')
    return failRollout(state, rollout, now, gate.reason, { byAnalysis: gate.byAnalysis });
  if (rollout.switchedAt !== undefined) return afterSwitch(context, rollout, rollout.switchedAt, gate);
  return beforeSwitch(context, rollout, gate);
}

/** Switched: the old side stays warm for scaleDownDelay, then the new revision is stable. */
function afterSwitch(
  context: BlueGreenContext,
  rollout: BlueGreenRollout,
  switchedAt: number,
  gate: Gate,
): Plan {
  const { spec, strategy, state, instances, now } = context;
  const target = rollout.to;
  if (gate.kind === 'wait') {
    // Post-promotion analysis could not decide: keep the old side warm until a human does.
    return {
      state: {
        ...state,
        rollout: { ...rollout, waitingFor: gate.reason },
        phase: 'Paused',
        message: gate.reason,
      },
      actions: [...scaleRevision(spec.name, instances, target, spec.replicas, 'scale down')],
      events: [],
    };
  }
  if (now - switchedAt >= strategy.scaleDownDelayMs) {
    return succeedRollout(spec, state, rollout, instances, now, 'scale down delay over');
  }
  const left = Math.ceil((switchedAt + strategy.scaleDownDelayMs - now) / 1000);
  const waitingFor = `old revision ${state.stable} stays warm ${left}s more (abort switches back)`;
  return {
    state: {
      ...state,
      rollout: { ...rollout, waitingFor },
      phase: 'Progressing',
      message: `switched to revision ${target}`,
    },
    actions: [
      ...scaleRevision(spec.name, instances, target, spec.replicas, 'scale down'),
      ...drainOthers(spec.name, instances, [state.stable, target], 'not serving'),
    ],
    events: [],
  };
}

/** Not switched yet: the preview side comes up; promotion switches once it has full size and passes. */
function beforeSwitch(context: BlueGreenContext, start: BlueGreenRollout, gate: Gate): Plan {
  const { spec, strategy, state, instances, now, ready } = context;
  const replicas = spec.replicas;
  const target = start.to;
  const stable = state.stable;
  const auto =
    strategy.autoPromote &&
    start.previewReadyAt !== undefined &&
    now - start.previewReadyAt >= strategy.autoPromoteAfterMs;
  const promoting = start.promoteRequested === true || auto;
  // The side that takes all traffic must have full size first.
  const want = promoting ? replicas : Math.min(strategy.previewReplicas, replicas);
  const previewReady = ready >= Math.min(strategy.previewReplicas, replicas);
  let rollout = start;
  if (previewReady && rollout.previewReadyAt === undefined) rollout = { ...rollout, previewReadyAt: now };
  if (!previewReady && rollout.previewReadyAt !== undefined)
    rollout = { ...rollout, previewReadyAt: undefined };

  let promotion: Gate = gate;
  const hookActions: Action[] = [];
  if (promoting && ready >= replicas && promotion.kind === 'open' && !rollout.fullPromote) {
    promotion = promotionGate(spec.analysis, rollout.analysis);
  }
  if (promoting && ready >= replicas && promotion.kind === 'open') {
    const smoke = hookGate(spec, rollout, 'prePromotion');
    if (smoke.kind === 'fail') return failRollout(state, rollout, now, smoke.reason);
    if (smoke.kind === 'wait') hookActions.push(...(smoke.actions ?? []));
    promotion = smoke;
  }
  if (promoting && ready >= replicas && promotion.kind === 'open') return switchTraffic(context, rollout);

  const key = `${ready}`;
  if (key !== rollout.progressKey) rollout = { ...rollout, progressKey: key, lastProgressAt: now };
  if (ready < want && now - rollout.lastProgressAt > strategy.progressDeadlineMs) {
    const reason = `preview revision ${target} made no progress for ${Math.round(strategy.progressDeadlineMs / 1000)}s (${ready}/${want} ready)`;
    return failRollout(state, rollout, now, reason);
  }
  let phase: ServicePhase = 'Progressing';
  let waitingFor: string;
  const events: Plan['events'] = [];
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
  const actions: Action[] = [
    ...scaleRevision(spec.name, instances, stable, replicas, 'scale down'),
    ...scaleRevision(spec.name, instances, target, want, 'scale down'),
    ...drainOthers(spec.name, instances, [stable, target], 'not serving'),
    ...hookActions,
  ];
  return {
    state: {
      ...state,
      rollout: { ...rollout, waitingFor },
      phase,
      message: `preview revision ${target}: ${waitingFor}`,
    },
    actions,
    events,
  };
}

/** Every new request goes to the new side; post-promotion analysis judges it from now on. */
function switchTraffic(context: BlueGreenContext, rollout: BlueGreenRollout): Plan {
  const { spec, state, instances, now } = context;
  const target = rollout.to;
  let switched: BlueGreenRollout = {
    ...rollout,
    switchedAt: now,
    promoteRequested: true,
    waitingFor: 'scale down delay',
  };
  // The new side now takes all traffic; a failure of this analysis switches back.
  if (spec.analysis)
    switched = { ...switched, analysis: startAnalysis(spec.analysis, now), analysisStage: 'post' };
  return {
    state: { ...state, rollout: switched, phase: 'Progressing', message: `switched to revision ${target}` },
    actions: [...drainOthers(spec.name, instances, [state.stable, target], 'not serving')],
    events: [
      {
        service: spec.name,
        type: 'TrafficSwitched',
        revision: target,
        message: `all traffic switched from revision ${state.stable} to revision ${target}`,
      },
    ],
  };
}
