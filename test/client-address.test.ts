/**
 * Per-address limits key on the client's IPv6 /64 (SECURITY.md, "Addresses"):
 * an IPv6 host is given a whole /64 and can rotate through it, so every
 * address in it counts as one. IPv4 addresses count whole, and an
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 host it names.
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { addressKey } from "../src/worker/client-address";
import { closeAll, connect, request, TEST_TOKEN, uniqueRoom, wsPath, type Client } from "./helpers";
import { TEST_API_RATE_LIMIT } from "./test-env";

const PER_SENDER = 20;
const SOCKETS_PER_ADDRESS = 100;

const group = fc.integer({ min: 0, max: 0xffff });
const groups = fc.array(group, { minLength: 8, maxLength: 8 });
const octet = fc.integer({ min: 0, max: 255 });
const ipv4 = fc.tuple(octet, octet, octet, octet).map((o) => o.join("."));

/** An IPv4-mapped address (::ffff:a.b.c.d): keyed as IPv4, not by its /64. */
const mapped = (g: number[]) => g.slice(0, 5).every((h) => h === 0) && g[5] === 0xffff;

/** The eight groups written out in full, in one of the ways RFC 4291 allows. */
const full = (g: number[], pad: boolean, upper: boolean) =>
  g
    .map((h) => h.toString(16).padStart(pad ? 4 : 1, "0"))
    .map((h) => (upper ? h.toUpperCase() : h))
    .join(":");

/** The same address with its longest run of zero groups written "::". */
function compressed(g: number[]): string {
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j;
  }
  if (best.len < 2) return full(g, false, false);
  const hex = g.map((h) => h.toString(16));
  return `${hex.slice(0, best.at).join(":")}::${hex.slice(best.at + best.len).join(":")}`;
}

/** A random /64 in the documentation range, and the n-th host in it. */
function network(): number[] {
  const [a, b] = crypto.getRandomValues(new Uint16Array(2));
  return [0x2001, 0xdb8, a!, b!];
}
const host = (net: number[], n: number) => compressed([...net, 0, 0, n >> 16, n & 0xffff || 1]);

describe("the address key", () => {
  it("keeps an IPv4 address whole", () => {
    fc.assert(
      fc.property(ipv4, (a) => {
        expect(addressKey(a)).toBe(a);
      }),
    );
  });

  it("reads an IPv4-mapped IPv6 address as the IPv4 host, in either notation", () => {
    fc.assert(
      fc.property(fc.tuple(octet, octet, octet, octet), (o) => {
        const v4 = o.join(".");
        const hex = `${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`;
        expect(addressKey(`::ffff:${v4}`)).toBe(v4);
        expect(addressKey(`::FFFF:${hex}`)).toBe(v4);
        expect(addressKey(`0:0:0:0:0:ffff:${v4}`)).toBe(v4);
      }),
    );
  });

  it("gives every way of writing one IPv6 address the same key", () => {
    fc.assert(
      fc.property(groups, fc.boolean(), fc.boolean(), (g, pad, upper) => {
        fc.pre(!mapped(g));
        const key = addressKey(full(g, false, false));
        expect(addressKey(full(g, pad, upper))).toBe(key);
        expect(addressKey(compressed(g))).toBe(key);
        expect(addressKey(`[${compressed(g)}]`)).toBe(key);
      }),
    );
  });

  it("gives two IPv6 addresses the same key exactly when their first 64 bits agree", () => {
    fc.assert(
      fc.property(groups, groups, (a, b) => {
        fc.pre(!mapped(a) && !mapped(b));
        const samePrefix = a.slice(0, 4).join() === b.slice(0, 4).join();
        expect(addressKey(compressed(a)) === addressKey(compressed(b))).toBe(samePrefix);
        expect(addressKey(compressed([...a.slice(0, 4), ...b.slice(4)]))).toBe(
          addressKey(compressed(a)),
        );
      }),
    );
  });

  it("writes the /64 it keyed on", () => {
    expect(addressKey("2001:DB8:0:1:aaaa::1")).toBe("2001:db8:0:1::/64");
    expect(addressKey("2001:db8::")).toBe("2001:db8:0:0::/64");
    expect(addressKey("::1")).toBe("0:0:0:0::/64");
    expect(addressKey("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
  });

  it("keeps what is not an address as it came, and none as none", () => {
    expect(addressKey("1::2::3")).toBe("1::2::3");
    expect(addressKey("256.1.1.1")).toBe("256.1.1.1");
    expect(addressKey("x".repeat(200))).toHaveLength(64);
    expect(addressKey(undefined)).toBeNull();
    expect(addressKey("")).toBeNull();
  });
});

/** Sends `n` messages; how many the room accepted. */
async function sendAll(client: Client, n: number, tag: string): Promise<number> {
  const before = client.frames.length;
  for (let i = 0; i < n; i++) client.send({ message: `${tag} ${i}`, clientId: `${tag}-${i}` });
  await client.until(
    (c) =>
      c.frames
        .slice(before)
        .filter((f) => f.type === "error" || String(f.clientId ?? "").startsWith(`${tag}-`))
        .length >= n,
    `${n} answers to ${tag}`,
  );
  return client.frames
    .slice(before)
    .filter((f) => f.type === "chat" && String(f.clientId ?? "").startsWith(`${tag}-`)).length;
}

describe("limits on an IPv6 client that rotates through its /64", () => {
  it("a guest reconnecting from a new address of the same /64 gets no new send allowance", async () => {
    const room = uniqueRoom();
    const net = network();
    let accepted = 0;
    for (const round of [1, 2, 3]) {
      const socket = await connect(room, "name=rotor", { "CF-Connecting-IP": host(net, round) });
      accepted += await sendAll(socket, PER_SENDER, `r${round}`);
      socket.close();
    }
    expect(accepted).toBe(PER_SENDER);
  });

  it(`counts sockets from every address of one /64 together: the ${SOCKETS_PER_ADDRESS + 1}st is refused`, async () => {
    const room = uniqueRoom();
    const net = network();
    const sockets: Client[] = [];
    try {
      for (let i = 0; i < SOCKETS_PER_ADDRESS; i++)
        sockets.push(await connect(room, "", { "CF-Connecting-IP": host(net, i + 1) }));
      const refused = await request(wsPath(room), {
        headers: { Upgrade: "websocket", "CF-Connecting-IP": host(net, 9999) },
      });
      expect(refused.status).toBe(429);
      // The next /64 is someone else.
      const neighbour = [...net.slice(0, 3), (net[3]! + 1) & 0xffff];
      sockets.push(await connect(room, "", { "CF-Connecting-IP": host(neighbour, 1) }));
    } finally {
      closeAll(sockets);
    }
  });

  it("the API rate limit counts the /64, not each address", async () => {
    const net = network();
    let limited = -1;
    for (let i = 0; i <= 2 * TEST_API_RATE_LIMIT; i++) {
      const res = await request(`/api/rooms/${uniqueRoom()}`, {
        headers: { Authorization: `Bearer ${TEST_TOKEN}`, "CF-Connecting-IP": host(net, i + 1) },
      });
      await res.body?.cancel();
      if (res.status === 429) {
        limited = i;
        break;
      }
    }
    expect(limited).toBeGreaterThanOrEqual(TEST_API_RATE_LIMIT);
  });
});
