/**
 * @module guest-key
 * A guest's stable member id. A page keeps a random key per browser and
 * sends it as `?guest=`; the member id is a hash of it, so the same browser
 * keeps its id across reconnects and reloads (its own messages stay "mine"),
 * while nobody can take another guest's id: ids are public, keys are not.
 */
import { toHex, type Parsed } from "./text";

const GUEST_KEY = /^[A-Za-z0-9_-]{16,128}$/;

/** The member id for a `?guest=` key; null when there is none. */
export async function guestIdFor(key: string | undefined): Promise<Parsed<string | null>> {
  if (key === undefined || key === "") return { ok: true, value: null };
  if (!GUEST_KEY.test(key))
    return { ok: false, error: "use 16 to 128 letters, digits, '-' or '_', random per browser" };
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`guest:${key}`));
  return { ok: true, value: toHex(digest).slice(0, 16) };
}
