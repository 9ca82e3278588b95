/* oxlint-disable vitest/no-conditional-expect -- a property's expectation depends on the generated case */
/**
 * `since` and `limit` (docs/protocol.md, docs/http-api.md). The documented
 * rule for `since`: a whole number from 0 to 2^53 − 1 (9007199254740991),
 * written in ASCII digits, at most 16 of them; empty means absent; anything
 * else is a 400 before the upgrade. A room then replays exactly the retained
 * messages with a larger id; a `since` past the room's last id gets a rich
 * client a `history_reset` frame and nothing else.
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { api, connect, request, uniqueRoom, wsPath } from "../helpers";
import { TEST_HISTORY_LIMIT } from "../test-env";
import { anyText, opts } from "./arbitraries";
import { answer, bearer, postMessage, upgrade } from "./http";

const ASCII_DIGITS = "0123456789";
const LARGEST = 2n ** 53n - 1n;

/** The documented rule, read character by character rather than by pattern. */
function sinceAccepted(value: string): boolean {
  if (value === "") return true;
  if (value.length > 16) return false;
  if (![...value].every((c) => ASCII_DIGITS.includes(c))) return false;
  return BigInt(value) <= LARGEST;
}

describe("since", () => {
  const sinceText = fc.oneof(
    fc.string({ unit: fc.constantFrom(...ASCII_DIGITS), maxLength: 20 }),
    fc.bigInt({ min: 0n, max: 2n ** 64n }).map(String),
    fc.constantFrom(
      "-1",
      "+1",
      " 1",
      "1 ",
      "1.0",
      "1e3",
      "0x10",
      "Infinity",
      "NaN",
      "１",
      "١",
      "9007199254740991",
      "9007199254740992",
      "0000000000000001",
      "00000000000000001",
    ),
    anyText.filter((s) => s.isWellFormed()),
  );

  it("is accepted exactly when it is a whole number up to 2^53 - 1 with at most 16 digits", async () => {
    const room = uniqueRoom("since");
    await fc.assert(
      fc.asyncProperty(sinceText, async (s) => {
        const ok = sinceAccepted(s);
        const query = `since=${encodeURIComponent(s)}`;
        const ws = await answer(
          await request(wsPath(room, query), { headers: upgrade }),
          [101, 400],
        );
        expect(ws.status).toBe(ok ? 101 : 400);
        if (!ok) expect(ws.json.error).toMatch(/^invalid since/);
        const history = await answer(
          await request(`/api/rooms/${room}/messages?${query}`, { headers: bearer() }),
          [200, 400],
        );
        expect(history.status).toBe(ok ? 200 : 400);
      }),
      opts(80, false),
    );
  });

  it("limit on the history API: a whole number up to HISTORY_LIMIT, anything else a 400", async () => {
    const room = uniqueRoom("limit");
    const limitText = fc.oneof(
      fc.integer({ min: 0, max: 3 * TEST_HISTORY_LIMIT }).map(String),
      fc.constantFrom("-1", "1.5", "x", "", " 1", "١"),
    );
    await fc.assert(
      fc.asyncProperty(limitText, async (s) => {
        const ok = sinceAccepted(s) && (s === "" || Number(s) <= TEST_HISTORY_LIMIT);
        const res = await request(`/api/rooms/${room}/messages?limit=${encodeURIComponent(s)}`, {
          headers: bearer(),
        });
        const a = await answer(res, [200, 400]);
        expect({ limit: s, status: a.status }).toEqual({ limit: s, status: ok ? 200 : 400 });
      }),
      opts(40, false),
    );
  });

  it("replays exactly the retained messages after since, on the socket and through the API", async () => {
    const room = uniqueRoom("replay");
    const total = 12;
    for (let i = 1; i <= total; i++)
      await answer(await postMessage(room, JSON.stringify({ message: `m${i}` })), [201]);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.integer({ min: 0, max: total + 3 }), fc.constant(Number.MAX_SAFE_INTEGER)),
        fc.integer({ min: 1, max: TEST_HISTORY_LIMIT }),
        async (since, limit) => {
          const expected = Array.from({ length: total }, (_, i) => i + 1).filter(
            (id) => id > since,
          );
          const client = await connect(room, `since=${since}&rich=1`);
          try {
            await client.untilType("welcome");
            await client.untilChats(expected.length);
            // Live messages would follow; none are sent, so what's here is the replay.
            await client.quiet(20);
            expect(client.chats().map((f) => f.id)).toEqual(expected);
            // docs/protocol.md: since past the last id means the room was reset.
            expect(client.ofType("history_reset")).toEqual(
              since > total ? [{ type: "history_reset", since, lastId: total }] : [],
            );
          } finally {
            client.close();
          }
          const res = await api(`/rooms/${room}/messages?since=${since}&limit=${limit}`, {
            headers: bearer(),
          });
          const body = (await res.json()) as { messages: { id: number }[] };
          expect(body.messages.map((m) => m.id)).toEqual(expected.slice(0, limit));
        },
      ),
      opts(25, false),
    );
  });
});
