/** Public API of the config module. */
export * from './defaults.ts';
export { formatDuration, parseDuration, tryParseDuration } from './duration.ts';
export { checkHttpUrl, HOOK_NAMES, HOOK_URL_VARS } from './hooks.ts';
export {
  type ConfigResult,
  FILE_ISSUE_PATH,
  formatIssue,
  formatIssues,
  loadConfigFile,
  type ParseOptions,
  parseConfig,
  type ServiceResult,
  SYNTAX_ISSUE_PATH,
  validateService,
} from './load.ts';
export { NOTIFICATION_EVENTS, NOTIFICATION_FORMATS } from './notifications.ts';
export { applyRunOverrides, type RunOverrideResult } from './overrides.ts';
export { CATASTROPHIC_MESSAGE, compilePattern, MAX_PATTERN_LENGTH, type PatternResult } from './pattern.ts';
export { formatSize, parseSize, tryParseSize } from './size.ts';
export {
  CANARY_STEP_KINDS,
  checkIntOrPercent,
  type IntOrPercentResult,
  parseHeaderValue,
  STRATEGY_KEYS,
  STRATEGY_TYPES,
  type StrategyType,
} from './strategy.ts';
export { substitute, substituteRun, TEMPLATE_VARS, type TemplateVar } from './template.ts';
export {
  type TrafficResult,
  validateTraffic,
  validateWeight,
  type WeightResult,
} from './traffic.ts';
export type * from './types.ts';
export {
  checkServiceName,
  findRouteConflicts,
  listenersCollide,
  parseHostPort,
} from './validate.ts';
