/**
 * @module log
 * One JSON line per event, for Workers Logs / `wrangler tail`. Callers pass
 * ids and counts only: never tokens, message text or display names.
 */

export type LogEvent = "connect" | "disconnect" | "inject" | "moderate" | "refused" | "error";

export function log(
  event: LogEvent,
  fields: Record<string, string | number | boolean | null>,
): void {
  const line = JSON.stringify({ event, ...fields });
  if (event === "error") console.error(line);
  else console.log(line);
}
