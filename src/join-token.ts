/**
 * @module join-token
 * Signed identities. The backend that owns the users mints short-lived HS256
 * JWTs with JOIN_SECRET; a socket that presents one joins under the name and
 * id the backend chose, and only such sockets may enter `private-` rooms.
 */
import { sign, verify } from "hono/jwt";
import { parseDisplayName } from "./display-name";
import { charCount, hasControlChar } from "./text";

export const PRIVATE_PREFIX = "private-";
export const MAX_SUB_CHARS = 128;
export const MAX_TOKEN_TTL_SECONDS = 24 * 60 * 60;

export interface Identity {
  /** The backend's user id (`sub`); also the member id in presence and moderation. */
  id: string;
  name: string;
}

export type TokenCheck =
  | { ok: true; identity: Identity }
  | { ok: false; status: 401 | 403 | 503; error: string };

export function isPrivateRoom(room: string): boolean {
  return room.startsWith(PRIVATE_PREFIX);
}

function refuse(status: 401 | 403 | 503, error: string): TokenCheck {
  return { ok: false, status, error };
}

/**
 * Checks a join token for `room`: signature (HS256 only; `alg: none` and
 * others are refused), expiry (required), and the claims this service needs.
 */
export async function verifyJoinToken(
  token: string,
  secret: string | undefined,
  room: string,
  maxNameChars: number,
): Promise<TokenCheck> {
  if (!secret)
    return refuse(503, "join tokens are disabled: JOIN_SECRET is not configured on the server");
  let claims: Record<string, unknown>;
  try {
    claims = (await verify(token, secret, "HS256")) as Record<string, unknown>;
  } catch (err) {
    const expired = (err as Error).name === "JwtTokenExpired";
    return refuse(
      401,
      expired
        ? "join token has expired: ask for a new one"
        : "join token is malformed or badly signed",
    );
  }
  const { sub, name, room: scope, exp } = claims;
  if (typeof exp !== "number") return refuse(401, 'join token has no "exp": tokens must expire');
  if (
    typeof sub !== "string" ||
    sub === "" ||
    charCount(sub) > MAX_SUB_CHARS ||
    hasControlChar(sub)
  )
    return refuse(
      401,
      `join token needs a "sub" claim: a user id of 1 to ${MAX_SUB_CHARS} characters`,
    );
  if (typeof scope !== "string")
    return refuse(401, 'join token needs a "room" claim: a room name or "*"');
  if (scope !== "*" && scope.normalize("NFC") !== room)
    return refuse(403, "join token is for another room");
  const displayName = parseDisplayName(typeof name === "string" ? name : undefined, maxNameChars);
  if (!displayName.ok) return refuse(401, `join token has an invalid "name": ${displayName.error}`);
  return {
    ok: true,
    identity: { id: sub, name: displayName.value ?? nameFromSub(sub, maxNameChars) },
  };
}

/** Without a `name` claim the member is shown under their `sub`, by the display-name rule. */
function nameFromSub(sub: string, maxNameChars: number): string {
  const fromSub = parseDisplayName([...sub.trim()].slice(0, maxNameChars).join(""), maxNameChars);
  return (fromSub.ok && fromSub.value) || "member";
}

/** Mints a join token, as any backend with JOIN_SECRET and a JWT library can. */
export async function mintJoinToken(
  secret: string,
  claims: { sub: string; name?: string; room: string },
  ttlSeconds: number,
): Promise<{ token: string; expiresAt: string }> {
  const exp = Math.floor(Date.now() / 1000) + ttlSeconds;
  const token = await sign({ ...claims, exp, iat: Math.floor(Date.now() / 1000) }, secret, "HS256");
  return { token, expiresAt: new Date(exp * 1000).toISOString() };
}
