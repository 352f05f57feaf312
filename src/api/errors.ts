import type { ConfigIssue } from '../config/types.ts';

/** An API failure with a stable machine-readable code and a message for humans. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details?: unknown;

  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** A 400 listing every validation issue as `path: message`. */
export function invalid(issues: ConfigIssue[]): ApiError {
  const text = issues.map((i) => `${i.path}: ${i.message}${i.line ? ` (line ${i.line})` : ''}`).join('; ');
  return new ApiError(400, 'invalid_body', text, issues);
}
