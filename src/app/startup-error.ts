/** `cutover up` cannot start for a reason the user must fix (printed as one line, exit 1). */
export class StartupError extends Error {}
