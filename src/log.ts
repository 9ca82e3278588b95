/**
 * @module log
 * One JSON line per event, for Workers Logs / `wrangler tail`. Callers pass
 * ids and counts only: never tokens, message text or display names.
 */

/**
 * "activity" is the per-interval summary of routine events (src/room/activity-log.ts);
 * the others are one line per event.
 */
export type LogEvent =
  | "activity"
  | "moderate"
  | "refused"
  | "webhook"
  | "webhook_retry"
  | "slow"
  | "expired"
  | "publish_hook"
  | "publish_hook_failing"
  | "error";
export type LogFields = Record<string, string | number | boolean | null>;
export type Log = (event: LogEvent, fields: LogFields) => void;

const SEVERITY: Record<LogEvent, number> = {
  activity: 0,
  moderate: 1,
  refused: 1,
  webhook: 0,
  webhook_retry: 1,
  // Closing a member that does not keep up, and deleting an abandoned room.
  slow: 1,
  expired: 0,
  // Per-interval summaries of the publish hook: routine, or with failures and busy refusals.
  publish_hook: 0,
  publish_hook_failing: 1,
  error: 2,
};
const THRESHOLD: Record<string, number> = { info: 0, warn: 1, error: 2 };

/**
 * A logger that drops events below LOG_LEVEL: "info" (default) logs the
 * activity summaries too; "warn" only refusals, moderation and errors.
 */
export function logger(level: string | undefined): Log {
  const min = THRESHOLD[level ?? "info"] ?? 0;
  return (event, fields) => {
    if (SEVERITY[event] < min) return;
    const line = JSON.stringify({ event, ...fields });
    if (event === "error") console.error(line);
    else console.log(line);
  };
}
