/**
 * @module webhook-signature
 * Pusher's webhook signature: hex HMAC-SHA256 of the raw body, keyed with
 * the secret, sent as X-Pusher-Signature beside X-Pusher-Key.
 */
import { toHex } from "../text";

/** The X-Pusher-Signature value for `body`. */
export async function signWebhook(secret: string, body: string): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return toHex(await crypto.subtle.sign("HMAC", key, encoder.encode(body)));
}
