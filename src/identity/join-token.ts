/**
 * @module join-token
 * Signed identities. The backend that owns the users mints short-lived HS256
 * JWTs with JOIN_SECRET; a socket that presents one joins under the name and
 * id the backend chose, and only such sockets may enter `private-` rooms.
 */
import { sign, verify } from "hono/jwt";
import { parseDisplayName } from "./display-name";
import { EVERY_ROOM } from "./room-name";
import { charCount, hasControlChar } from "../text";

export const MAX_SUB_CHARS = 128;
/**
 * Longest a join token may live, counted from now: minted tokens get at most
 * this, and a token from elsewhere whose `exp` lies further ahead is refused,
 * so a leaked token is useless within a day.
 */
export const MAX_TOKEN_TTL_SECONDS = 24 * 60 * 60;
/**
 * Clocks of the backend that mints and of Cloudflare's edge disagree a
 * little: `exp`, `nbf` and `iat` are judged with this much slack, in seconds.
 */
export const CLOCK_LEEWAY_SECONDS = 60;

export interface Identity {
  /** The backend's user id (`sub`); also the member id in presence and moderation. */
  id: string;
  name: string;
}

export type TokenCheck =
  | { ok: true; identity: Identity }
  | { ok: false; status: 401 | 403 | 503; error: string };

function refuse(status: 401 | 403 | 503, error: string): TokenCheck {
  return { ok: false, status, error };
}

/**
 * Checks a join token for `room`: signature (HS256 only; `alg: none` and
 * others are refused), expiry (required, at most MAX_TOKEN_TTL_SECONDS
 * ahead), and the claims this service needs.
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
    // Times are checked below, with leeway; hono's checks allow none.
    claims = (await verify(token, secret, {
      alg: "HS256",
      exp: false,
      nbf: false,
      iat: false,
    })) as Record<string, unknown>;
  } catch {
    return refuse(401, "join token is malformed or badly signed");
  }
  const { sub, name, room: scope, exp, nbf, iat } = claims;
  const timing = checkTimes(exp, nbf, iat, Date.now() / 1000);
  if (timing) return refuse(401, timing);
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
    return refuse(401, `join token needs a "room" claim: a room name or "${EVERY_ROOM}"`);
  if (scope !== EVERY_ROOM && scope.normalize("NFC") !== room)
    return refuse(403, "join token is for another room");
  const displayName = parseDisplayName(typeof name === "string" ? name : undefined, maxNameChars);
  if (!displayName.ok) return refuse(401, `join token has an invalid "name": ${displayName.error}`);
  return {
    ok: true,
    identity: { id: sub, name: displayName.value ?? nameFromSub(sub, maxNameChars) },
  };
}

const isTime = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** Why the token's times make it unusable now, with CLOCK_LEEWAY_SECONDS of slack; null if they don't. */
function checkTimes(exp: unknown, nbf: unknown, iat: unknown, now: number): string | null {
  if (exp === undefined) return 'join token has no "exp": tokens must expire';
  if (!isTime(exp) || (nbf !== undefined && !isTime(nbf)) || (iat !== undefined && !isTime(iat)))
    return 'join token has a malformed "exp", "nbf" or "iat": use seconds since the epoch';
  if (exp + CLOCK_LEEWAY_SECONDS <= now) return "join token has expired: ask for a new one";
  if (exp - CLOCK_LEEWAY_SECONDS > now + MAX_TOKEN_TTL_SECONDS)
    return `join token lives too long: its "exp" is ${Math.round(exp - now)} s ahead, more than the ${MAX_TOKEN_TTL_SECONDS} s (24 h) allowed; mint tokens that expire sooner`;
  const start = Math.max(isTime(nbf) ? nbf : -Infinity, isTime(iat) ? iat : -Infinity);
  if (start - CLOCK_LEEWAY_SECONDS > now)
    return `join token is not valid yet: its ${start === nbf ? '"nbf"' : '"iat"'} is ${Math.round(start - now)} s in the future, more than the ${CLOCK_LEEWAY_SECONDS} s allowed for clock drift; check the clock of the server that minted it`;
  return null;
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
