/**
 * @module client-address
 * The key every per-address limit counts against. An IPv4 address is one
 * host; an IPv6 host is normally given a whole /64 and can rotate through it
 * at will, so IPv6 addresses are keyed by their /64 network. Read once, where
 * the Worker reads CF-Connecting-IP, so every limit agrees on the key.
 */

/** Leading bits of an IPv6 address that name one subscriber (RFC 6177, Cloudflare's own rate limiting). */
export const IPV6_PREFIX_BITS = 64;

/** Longest text an address can be (an IPv6 address with an embedded IPv4 and a zone). */
const MAX_ADDRESS_CHARS = 64;

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/**
 * The per-address key for a client address: IPv4 (and IPv4-mapped IPv6,
 * `::ffff:a.b.c.d`) as the dotted address, IPv6 as its /64 written
 * `2001:db8:1:2::/64`. Text that is neither (never from Cloudflare's edge)
 * is kept as sent, shortened; null when there is none.
 */
export function addressKey(raw: string | null | undefined): string | null {
  if (raw === null || raw === undefined) return null;
  const text = raw.trim();
  if (text === "") return null;
  const v4 = parseIpv4(text);
  if (v4) return v4.join(".");
  const v6 = parseIpv6(text);
  if (!v6) return text.slice(0, MAX_ADDRESS_CHARS);
  // ::ffff:a.b.c.d is an IPv4 client reached over IPv6: the same host as a.b.c.d.
  if (v6.slice(0, 5).every((h) => h === 0) && v6[5] === 0xffff)
    return [v6[6]! >> 8, v6[6]! & 0xff, v6[7]! >> 8, v6[7]! & 0xff].join(".");
  const kept = IPV6_PREFIX_BITS / 16;
  return `${v6
    .slice(0, kept)
    .map((h) => h.toString(16))
    .join(":")}::/${IPV6_PREFIX_BITS}`;
}

function parseIpv4(text: string): number[] | null {
  const m = IPV4.exec(text);
  if (!m) return null;
  const octets = m.slice(1).map(Number);
  return octets.every((o) => o <= 255) ? octets : null;
}

/** The eight 16-bit groups of an IPv6 address (compressed, with an IPv4 tail or a zone), or null. */
function parseIpv6(text: string): number[] | null {
  let s = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  if (s.length > MAX_ADDRESS_CHARS || !/^[0-9a-fA-F:.]+$/.test(s)) return null;
  // An IPv4 tail stands for the last two groups.
  const lastColon = s.lastIndexOf(":");
  const tail = s.slice(lastColon + 1);
  let tailGroups: number[] = [];
  if (tail.includes(".")) {
    const v4 = parseIpv4(tail);
    if (!v4) return null;
    tailGroups = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    const before = s.slice(0, lastColon + 1);
    s = before.endsWith("::") ? before : s.slice(0, lastColon);
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const head = hexGroups(halves[0]!);
  const rest = halves.length === 2 ? hexGroups(halves[1]!) : [];
  if (!head || !rest) return null;
  const known = head.length + rest.length + tailGroups.length;
  if (halves.length === 2) {
    if (known > 7) return null;
    return [...head, ...Array.from({ length: 8 - known }, () => 0), ...rest, ...tailGroups];
  }
  return known === 8 ? [...head, ...tailGroups] : null;
}

/** Colon-separated hex groups, or null if one is not 1 to 4 hex digits. */
function hexGroups(part: string): number[] | null {
  if (part === "") return [];
  const out: number[] = [];
  for (const g of part.split(":")) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    out.push(parseInt(g, 16));
  }
  return out;
}
