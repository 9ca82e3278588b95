/**
 * @module origin
 * Cross-site WebSocket hijacking guard: browsers send Origin on every
 * upgrade and do not apply CORS to WebSockets, so the server must check it.
 */

/**
 * True when the upgrade may proceed: no Origin (scripts and CLIs), an Origin
 * on the same host as the request, or one listed in ALLOWED_ORIGINS.
 */
export function originAllowed(
  origin: string | undefined,
  requestUrl: string,
  allowed: string[],
): boolean {
  if (origin === undefined) return true;
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false;
  }
  if (parsed.host === new URL(requestUrl).host) return true;
  return allowed.includes(parsed.origin.toLowerCase());
}
