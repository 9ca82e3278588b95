/**
 * @module display-name
 * Names people show in a room. They are labels, not identities: anyone may
 * pick any name unless a signed join token fixes it.
 */
import { DEFAULTS } from "../config";
import { findHiddenChar } from "./hidden-chars";
import { charCount, hasControlChar, type Parsed } from "../text";

/** The default limit; MAX_NAME_CHARS in the environment overrides it. */
export const MAX_NAME_CHARS = DEFAULTS.maxNameChars;

/**
 * Trims, NFC-normalises and validates a display name. An absent or blank
 * name is not an error: the caller generates one.
 */
export function parseDisplayName(
  input: string | null | undefined,
  maxChars = MAX_NAME_CHARS,
): Parsed<string | null> {
  if (input === null || input === undefined) return { ok: true, value: null };
  // toWellFormed: a lone surrogate would not survive storage as UTF-8.
  const name = input.toWellFormed().normalize("NFC").trim();
  if (name === "") return { ok: true, value: null };
  if (hasControlChar(name)) return { ok: false, error: "name contains a control character" };
  const hidden = findHiddenChar(name);
  if (hidden)
    return { ok: false, error: `name contains an invisible formatting character (${hidden})` };
  if (charCount(name) > maxChars)
    return { ok: false, error: `name is longer than ${maxChars} characters` };
  return { ok: true, value: name };
}

/** A readable name for someone who did not choose one. */
export function guestName(): string {
  const n = crypto.getRandomValues(new Uint16Array(1))[0]! % 10000;
  return `guest-${n.toString().padStart(4, "0")}`;
}
