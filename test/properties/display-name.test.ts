/* oxlint-disable vitest/no-conditional-expect -- a property's expectation depends on the generated case */
/**
 * Display names (docs/protocol.md `name`, docs/identity.md "Names that cannot
 * hide or imitate"): trimmed, NFC-normalised, at most MAX_NAME_CHARS (32)
 * characters, no control characters, no invisible formatting characters (with
 * the documented exceptions); absent or blank means a generated `guest-1234`.
 * Refused names get `400 {"error": "invalid name: ..."}` before the upgrade.
 *
 * Valid names are assembled from allowed pieces (with whitespace around them,
 * which is trimmed); each invalid one breaks exactly one rule.
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseDisplayName } from "../../src/identity/display-name";
import { request, uniqueRoom, wsPath, Client, type Frame } from "../helpers";
import { anyText, MAX_NAME, opts, whitespaceOnly } from "./arbitraries";
import { answer, upgrade } from "./http";
import { codePoints, CONTROLS, HIDDEN, invalidName, validName } from "./labels";

describe("display names", () => {
  it("parseDisplayName accepts every name built from allowed pieces, trimmed and in NFC", () => {
    fc.assert(
      fc.property(validName, ({ name, shown }) => {
        expect(parseDisplayName(name)).toEqual({ ok: true, value: shown });
      }),
      opts(500),
    );
  });

  it("parseDisplayName treats absent and blank names as 'make one up'", () => {
    fc.assert(
      fc.property(fc.oneof(whitespaceOnly, fc.constant(undefined)), (name) => {
        expect(parseDisplayName(name)).toEqual({ ok: true, value: null });
      }),
      opts(100),
    );
  });

  it("parseDisplayName refuses every name that breaks one documented rule, saying which", () => {
    fc.assert(
      fc.property(invalidName, ({ name, because }) => {
        const parsed = parseDisplayName(name);
        expect({ name, ok: parsed.ok }).toEqual({ name, ok: false });
        if (!parsed.ok) expect(parsed.error).toMatch(because);
      }),
      opts(1000),
    );
  });

  it("whatever the text, an accepted name keeps every rule the docs can check without a table", () => {
    const alwaysHidden = HIDDEN.filter(
      (c) => !["\u200c", "\u200d", "\ufe0e", "\ufe0f"].includes(c),
    );
    fc.assert(
      fc.property(anyText, (s) => {
        const parsed = parseDisplayName(s);
        if (!parsed.ok || parsed.value === null) return;
        const name = parsed.value;
        expect(name).toBe(name.trim());
        expect(name).toBe(name.normalize("NFC"));
        expect(codePoints(name)).toBeLessThanOrEqual(MAX_NAME);
        expect([...name].filter((c) => CONTROLS.includes(c) || alwaysHidden.includes(c))).toEqual(
          [],
        );
      }),
      opts(1000),
    );
  });

  it("?name= is refused with 400 or shown to the room exactly as the rule says", async () => {
    const nameCase = fc.oneof(
      validName.map(({ name, shown }) => ({ name, shown: shown as string | null })),
      whitespaceOnly.map((name) => ({ name, shown: null as string | null })),
      invalidName.map(({ name }) => ({ name, shown: undefined })),
    );
    await fc.assert(
      fc.asyncProperty(nameCase, async ({ name, shown }) => {
        const res = await request(
          wsPath(uniqueRoom("names"), `rich=1&name=${encodeURIComponent(name)}`),
          { headers: upgrade },
        );
        if (shown === undefined) {
          const a = await answer(res, [400]);
          expect(a.json.error).toMatch(/^invalid name/);
          return;
        }
        expect(res.status).toBe(101);
        const client = new Client(res.webSocket!);
        try {
          await client.untilType("welcome");
          const you = client.ofType("welcome")[0]!.you as Frame;
          if (shown === null) expect(you.name).toMatch(/^guest-\d{4}$/);
          else expect(you.name).toBe(shown);
          client.send({ message: "me" });
          await client.untilChats(1);
          expect(client.chats().at(-1)!.user).toBe(you.name);
        } finally {
          client.close();
        }
      }),
      opts(40, false),
    );
  });

  it("any raw query string (broken escapes, '+', repeated keys) gets 101 or a JSON 400, never a 5xx", async () => {
    const room = uniqueRoom("query");
    const piece = fc.oneof(
      fc.constantFrom(
        "name=",
        "since=",
        "rich=",
        "limit=",
        "&",
        "=",
        "+",
        "%",
        "%2",
        "%ZZ",
        "%E6%8A",
        "%ED%A0%80",
        "%00",
        "%0A",
        "%20",
        "%2B",
        "%26",
        "%E2%80%8B",
        "1",
        "99999999999999999",
        "-1",
        "x",
      ),
      fc.string({ maxLength: 4 }).map(encodeURIComponent),
    );
    const query = fc.array(piece, { maxLength: 10 }).map((a) => a.join(""));
    await fc.assert(
      fc.asyncProperty(query, async (q) => {
        const res = await request(`${wsPath(room)}?${q}`, { headers: upgrade });
        const a = await answer(res, [101, 400]);
        expect([101, 400]).toContain(a.status);
        if (a.status === 400) expect(a.json.error).toMatch(/^invalid (name|since)/);
      }),
      opts(60, false),
    );
  });
});
