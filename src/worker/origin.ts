/**
 * @module origin
 * Cross-site WebSocket hijacking guard: browsers send Origin on every
 * upgrade and do not apply CORS to WebSockets, so the server must check it.
 */

/**
 * True when the upgrade may proceed: no Origin (scripts and CLIs), the
 * request's own origin (scheme, host and port: an http:// page may not open
 * sockets to the https:// service, where a network attacker could have
 * written it), or one listed in ALLOWED_ORIGINS.
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
  if (parsed.origin === new URL(requestUrl).origin) return true;
  return allowed.includes(parsed.origin.toLowerCase());
}
