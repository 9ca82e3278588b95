/**
 * @module guest-key
 * A guest's stable member id. A page keeps a random key per browser and
 * sends it as `?guest=`; the member id is an HMAC of the room and the key
 * under a server secret, so the same browser keeps its id across reconnects
 * and reloads in one room (its own messages stay "mine"), nobody can take
 * another guest's id (ids are public, keys are not), and one guest's ids in
 * two rooms cannot be linked by anyone without the secret.
 */
import { toHex, type Parsed } from "../text";

const GUEST_KEY = /^[A-Za-z0-9_-]{16,128}$/;

/** A keyed guest's id: 16 hex digits. A keyless guest's per-connection id is 12 (KEYLESS_GUEST_ID). */
export const KEYED_GUEST_ID = /^[0-9a-f]{16}$/;
export const KEYLESS_GUEST_ID = /^[0-9a-f]{12}$/;

/**
 * Domain label: the HMAC key is derived from BROADCAST_TOKEN (always set,
 * required by wrangler.toml) for this one use, so a guest id reveals nothing
 * about the token and cannot be mistaken for any other MAC made with it.
 */
const LABEL = "edge-chat guest id v1";

/** The derived key per secret; a Worker isolate sees one secret, so this stays one entry. */
const keys = new Map<string, Promise<CryptoKey>>();

function guestIdKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (key === undefined) {
    if (keys.size > 4) keys.clear();
    key = derive(secret);
    keys.set(secret, key);
  }
  return key;
}

async function derive(secret: string): Promise<CryptoKey> {
  const encoder = new TextEncoder();
  const outer = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const derived = await crypto.subtle.sign("HMAC", outer, encoder.encode(LABEL));
  return crypto.subtle.importKey("raw", derived, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
}

/**
 * The member id in `room` for a `?guest=` key, derived with `secret`
 * (BROADCAST_TOKEN); null when there is no key.
 */
export async function guestIdFor(
  key: string | undefined,
  room: string,
  secret: string,
): Promise<Parsed<string | null>> {
  if (key === undefined || key === "") return { ok: true, value: null };
  if (!GUEST_KEY.test(key))
    return { ok: false, error: "use 16 to 128 letters, digits, '-' or '_', random per browser" };
  // The room first and NUL-separated: no (room, key) pair reads as another.
  const mac = await crypto.subtle.sign(
    "HMAC",
    await guestIdKey(secret),
    new TextEncoder().encode(`${room}\u0000${key}`),
  );
  return { ok: true, value: toHex(mac).slice(0, 16) };
}
