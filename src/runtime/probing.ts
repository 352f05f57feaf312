import type { ProbeConfig } from '../config/types.ts';
import { type ProbeResult, ProbeThreshold, probeHttp } from './probe.ts';

/** What the probes of one process report to its instance. */
export interface ProbeListener {
  /** Still the process to probe (not stopping, not replaced, not being killed); checked around each probe. */
  active(): boolean;
  /** Any failed probe (readiness or liveness), before its verdict is applied. */
  failed(error: string | undefined): void;
  /** Readiness turned true; liveness starts right after this returns. */
  ready(): void;
  /** Readiness turned false. */
  notReady(error: string | undefined): void;
  /** Liveness turned false: the probes have stopped, the process must be killed. */
  livenessFailed(error: string | undefined, failures: number): void;
}

export interface ProbeSettings {
  port: number;
  readiness: ProbeConfig;
  liveness?: ProbeConfig;
  /** The readiness verdict before the first probe (true for an adopted process that answered). */
  readyAtStart: boolean;
}

/**
 * The readiness and liveness loops of one process: one probe per interval each, verdicts through
 * the thresholds. Liveness runs from the first ready (or from liveness.initialDelayMs when that is
 * set), never before.
 */
export class ProcessProbes {
  readonly readiness: ProbeThreshold;
  private readonly liveness?: ProbeThreshold;
  private livenessStarted = false;
  private readonly settings: ProbeSettings;
  private readonly listener: ProbeListener;
  private readinessTimer?: NodeJS.Timeout;
  private livenessTimer?: NodeJS.Timeout;
  private livenessDelayTimer?: NodeJS.Timeout;

  constructor(settings: ProbeSettings, listener: ProbeListener) {
    this.settings = settings;
    this.listener = listener;
    const { readiness, liveness } = settings;
    this.readiness = new ProbeThreshold(
      readiness.successThreshold,
      readiness.failureThreshold,
      settings.readyAtStart,
    );
    // Alive until proven otherwise.
    if (liveness)
      this.liveness = new ProbeThreshold(liveness.successThreshold, liveness.failureThreshold, true);
  }

  /** Runs the next readiness probe after `delayMs`, then every readiness interval. */
  scheduleReadiness(delayMs: number): void {
    const cfg = this.settings.readiness;
    this.readinessTimer = setTimeout(async () => {
      const r = await this.probe(cfg);
      if (!r) return;
      if (this.readiness.record(r.ok)) {
        if (this.readiness.value) {
          this.listener.ready();
          this.startLiveness();
        } else {
          this.listener.notReady(r.error);
        }
      }
      this.scheduleReadiness(cfg.intervalMs);
    }, delayMs);
  }

  /** Starts liveness after liveness.initialDelayMs, even if the process is not ready by then. */
  delayLiveness(): void {
    const delay = this.settings.liveness?.initialDelayMs ?? 0;
    if (delay > 0) this.livenessDelayTimer = setTimeout(() => this.startLiveness(), delay);
  }

  startLiveness(): void {
    const cfg = this.settings.liveness;
    if (!cfg || this.livenessStarted || !this.listener.active()) return;
    this.livenessStarted = true;
    clearTimeout(this.livenessDelayTimer);
    this.livenessDelayTimer = undefined;
    this.scheduleLiveness(cfg.intervalMs);
  }

  private scheduleLiveness(delayMs: number): void {
    const cfg = this.settings.liveness;
    const threshold = this.liveness;
    if (!cfg || !threshold) return;
    this.livenessTimer = setTimeout(async () => {
      const r = await this.probe(cfg);
      if (!r) return;
      if (threshold.record(r.ok) && !threshold.value) {
        this.stop();
        this.listener.livenessFailed(r.error, threshold.failures);
        return;
      }
      this.scheduleLiveness(cfg.intervalMs);
    }, delayMs);
  }

  /** One probe while the process is still the one to probe (undefined: it is not, stop the loop). */
  private async probe(cfg: ProbeConfig): Promise<ProbeResult | undefined> {
    if (!this.listener.active()) return undefined;
    const r = await probeHttp(this.settings.port, cfg.path, cfg.timeoutMs);
    if (!this.listener.active()) return undefined;
    if (!r.ok) this.listener.failed(r.error);
    return r;
  }

  stop(): void {
    clearTimeout(this.readinessTimer);
    clearTimeout(this.livenessTimer);
    clearTimeout(this.livenessDelayTimer);
    this.readinessTimer = this.livenessTimer = this.livenessDelayTimer = undefined;
  }
}
