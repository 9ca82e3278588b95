import { env } from "cloudflare:workers";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import worker from "../src/worker/index";
import {
  api,
  closeAll,
  connect,
  inject,
  ORIGIN,
  presentNames,
  request,
  uniqueRoom,
  wsPath,
} from "./helpers";
import { TEST_JOIN_SECRET } from "./test-env";

const now = () => Math.floor(Date.now() / 1000);

function joinToken(claims: Record<string, unknown>, secret = TEST_JOIN_SECRET): Promise<string> {
  return sign({ exp: now() + 600, ...claims }, secret, "HS256");
}

function base64url(value: unknown): string {
  return btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

async function refusal(room: string, query: string): Promise<{ status: number; error: string }> {
  const res = await request(wsPath(room, query), { headers: { Upgrade: "websocket" } });
  const body = res.status === 101 ? { error: "" } : ((await res.json()) as { error: string });
  if (res.webSocket) {
    res.webSocket.accept();
    res.webSocket.close();
  }
  return { status: res.status, error: body.error };
}

describe("joining with a signed token", () => {
  it("fixes the member's name and id, ignores ?name= and marks frames verified", async () => {
    const room = uniqueRoom();
    const token = await joinToken({ sub: "user-42", name: "Alice Liddell", room });
    const alice = await connect(room, `token=${token}&name=Mallory&rich=1`);
    const guest = await connect(room, "name=Alice%20Liddell");
    try {
      await alice.untilType("welcome");
      expect(alice.ofType("welcome")[0]!.you).toEqual({
        id: "user-42",
        name: "Alice Liddell",
        verified: true,
      });
      alice.send({ message: "signed" });
      guest.send({ message: "unsigned" });
      await alice.untilChats(2);
      const [signed, unsigned] = alice.chats();
      expect(signed).toMatchObject({ user: "Alice Liddell", message: "signed", verified: true });
      expect(unsigned).toMatchObject({ user: "Alice Liddell", message: "unsigned" });
      expect(unsigned!.verified).toBeUndefined();
      const history = (await (await api(`/rooms/${room}/messages`)).json()) as {
        messages: { verified?: boolean }[];
      };
      expect(history.messages.map((m) => m.verified ?? false)).toEqual([true, false]);
    } finally {
      closeAll([alice, guest]);
    }
  });

  it("accepts a token for every room ('*') and uses sub when there is no name", async () => {
    const room = uniqueRoom();
    const token = await joinToken({ sub: "bot-7", room: "*" });
    const bot = await connect(room, `token=${token}&rich=1`);
    try {
      await bot.untilType("welcome");
      expect(bot.ofType("welcome")[0]!.you).toMatchObject({ id: "bot-7", name: "bot-7" });
    } finally {
      bot.close();
    }
  });

  it("shows a member without a name claim under their sub, trimmed and cut to the name limit", async () => {
    const room = uniqueRoom();
    const padded = await connect(room, `token=${await joinToken({ sub: "  bob  ", room })}&rich=1`);
    const long = await connect(
      room,
      `token=${await joinToken({ sub: "u".repeat(100), room })}&rich=1`,
    );
    try {
      await Promise.all([padded.untilType("welcome"), long.untilType("welcome")]);
      expect(padded.ofType("welcome")[0]!.you).toEqual({
        id: "  bob  ",
        name: "bob",
        verified: true,
      });
      expect(long.ofType("welcome")[0]!.you.name).toBe("u".repeat(32));
    } finally {
      closeAll([padded, long]);
    }
  });

  const cases: [string, (room: string) => Promise<string>, number, RegExp][] = [
    [
      "expired by more than the 60 s clock leeway",
      (room) => joinToken({ sub: "u", room, exp: now() - 62 }),
      401,
      /expired/,
    ],
    [
      "not valid before a time beyond the leeway ('nbf')",
      (room) => joinToken({ sub: "u", room, nbf: now() + 120 }),
      401,
      /not valid yet: its "nbf" is 1[12]\d s in the future/,
    ],
    [
      "issued in the future beyond the leeway ('iat')",
      (room) => joinToken({ sub: "u", room, iat: now() + 300 }),
      401,
      /not valid yet: its "iat" is .* check the clock/,
    ],
    [
      "whose 'exp' lies more than a day (plus the leeway) ahead",
      (room) => joinToken({ sub: "u", room, exp: now() + 24 * 3600 + 120 }),
      401,
      /lives too long: its "exp" is 865[12]\d s ahead, more than the 86400 s \(24 h\) allowed/,
    ],
    [
      "whose 'exp' is years ahead",
      (room) => joinToken({ sub: "u", room, exp: now() + 10 * 365 * 24 * 3600 }),
      401,
      /lives too long/,
    ],
    [
      "with a string exp",
      (room) => joinToken({ sub: "u", room, exp: String(now() + 600) }),
      401,
      /malformed "exp"/,
    ],
    [
      "with a zero-width space in name",
      (room) => joinToken({ sub: "u", room, name: "Ali\u200bce" }),
      401,
      /"name": .*invisible.*U\+200B/,
    ],
    [
      "with a right-to-left override in name",
      (room) => joinToken({ sub: "u", room, name: "\u202Eecila" }),
      401,
      /"name": .*U\+202E/,
    ],
    ["for another room", () => joinToken({ sub: "u", room: "elsewhere" }), 403, /another room/],
    [
      "signed with another secret",
      (room) => joinToken({ sub: "u", room }, "not-the-secret"),
      401,
      /badly signed/,
    ],
    [
      "signed with the broadcast token",
      (room) => joinToken({ sub: "u", room }, "test-broadcast-token"),
      401,
      /badly signed/,
    ],
    [
      "with alg: none",
      async (room) =>
        `${base64url({ alg: "none", typ: "JWT" })}.${base64url({ sub: "u", room, exp: now() + 600 })}.`,
      401,
      /malformed or badly signed/,
    ],
    [
      "with alg: HS512",
      (room) => sign({ sub: "u", room, exp: now() + 600 }, TEST_JOIN_SECRET, "HS512"),
      401,
      /malformed or badly signed/,
    ],
    ["without sub", (room) => joinToken({ room }), 401, /"sub"/],
    ["with an empty sub", (room) => joinToken({ sub: "", room }), 401, /"sub"/],
    ["without room", () => joinToken({ sub: "u" }), 401, /"room"/],
    ["without exp", (room) => sign({ sub: "u", room }, TEST_JOIN_SECRET, "HS256"), 401, /"exp"/],
    [
      "with a control character in name",
      (room) => joinToken({ sub: "u", room, name: "a\u0007" }),
      401,
      /"name"/,
    ],
    ["that is not a JWT", async () => "not-a-token", 401, /malformed/],
  ];

  it.each(cases)(
    "refuses a token %s before the upgrade, with a JSON reason",
    async (_what, make, status, error) => {
      const room = uniqueRoom();
      const res = await refusal(room, `token=${encodeURIComponent(await make(room))}`);
      expect(res).toEqual({ status, error: expect.stringMatching(error) });
    },
  );

  it("allows 60 s of clock drift either way for exp, nbf and iat", async () => {
    const room = uniqueRoom();
    const drifted = [
      await joinToken({ sub: "late", room, exp: now() - 30 }),
      await joinToken({ sub: "early", room, nbf: now() + 30, iat: now() + 30 }),
    ];
    for (const token of drifted) {
      const client = await connect(room, `token=${token}&rich=1`);
      try {
        await client.untilType("welcome");
        expect(client.ofType("welcome")[0]!.you.verified).toBe(true);
      } finally {
        client.close();
      }
    }
  });

  it("refuses a token for room '*' as a room name, and '*' as a room", async () => {
    const token = await joinToken({ sub: "u", room: "*" });
    for (const star of ["*", "%2A", "%EF%BC%8A"]) {
      const res = await request(`/ws/chat/${star}/?token=${token}`, {
        headers: { Upgrade: "websocket" },
      });
      expect({ star, status: res.status }).toEqual({ star, status: 400 });
      expect(((await res.json()) as { error: string }).error).toMatch(/'\*' is not a room name/);
    }
  });

  it("refuses tokens when JOIN_SECRET is not configured, never accepting them unchecked", async () => {
    const room = uniqueRoom();
    const token = await joinToken({ sub: "u", room });
    const res = await worker.fetch(
      new Request(`${ORIGIN}${wsPath(room, `token=${token}`)}`, {
        headers: { Upgrade: "websocket" },
      }),
      { ...env, JOIN_SECRET: undefined },
    );
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: string }).error).toMatch(/JOIN_SECRET/);
  });
});

describe("'*', the tokens' every-room, is not a room", () => {
  const auth = { Authorization: "Bearer test-broadcast-token", "Content-Type": "application/json" };
  it.each([
    ["the socket route", "GET", "/ws/chat/%2A/", { Upgrade: "websocket" }],
    ["the room page", "GET", "/chat/%2A/", {}],
    ["stats", "GET", "/api/rooms/%2A", auth],
    ["history", "GET", "/api/rooms/%2A/messages", auth],
    ["inject", "POST", "/api/rooms/%2A/messages", auth],
    ["members", "GET", "/api/rooms/%2A/members", auth],
    ["moderation", "DELETE", "/api/rooms/%2A/members/u", auth],
    ["tokens", "POST", "/api/rooms/*/tokens", auth],
  ])("on %s: 400", async (_what, method, path, headers) => {
    const body = method === "POST" ? '{"message":"hi","sub":"u"}' : undefined;
    const res = await request(path, { method, headers, body });
    expect(res.status).toBe(400);
    // The page is HTML, where the quotes are escaped.
    expect(await res.text()).toMatch(/\*(&#39;|')? is not a room name/);
  });
});

describe("private rooms", () => {
  it("lets in only sockets with a token for the room", async () => {
    const room = `private-${crypto.randomUUID()}`;
    expect(await refusal(room, "")).toEqual({
      status: 401,
      error: expect.stringMatching(/private/),
    });
    expect(await refusal(room, "name=guest&since=0&rich=1")).toMatchObject({ status: 401 });
    const other = await joinToken({ sub: "u", room: `private-${crypto.randomUUID()}` });
    expect(await refusal(room, `token=${other}`)).toMatchObject({ status: 403 });
    const member = await connect(
      room,
      `token=${await joinToken({ sub: "u1", name: "Insider", room })}`,
    );
    try {
      member.send({ message: "secret plans" });
      await member.untilChats(1);
    } finally {
      member.close();
    }
  });

  it("never serves presence or history to a socket without a token", async () => {
    const room = `private-${crypto.randomUUID()}`;
    await inject(room, "confidential");
    for (const query of ["", "rich=1", "since=0", "name=spy&rich=1&since=0"]) {
      const res = await request(wsPath(room, query), { headers: { Upgrade: "websocket" } });
      expect(res.status).toBe(401);
      expect(res.webSocket).toBeNull();
      expect(await res.text()).not.toContain("confidential");
    }
  });

  it("cannot be joined at all when JOIN_SECRET is not configured", async () => {
    const res = await worker.fetch(
      new Request(`${ORIGIN}${wsPath("private-team")}`, { headers: { Upgrade: "websocket" } }),
      { ...env, JOIN_SECRET: undefined },
    );
    expect(res.status).toBe(503);
  });

  it("explains a refusal to a plain GET, so a page can show why its socket failed", async () => {
    const res = await request(wsPath(`private-${crypto.randomUUID()}`));
    expect(res.status).toBe(401);
    const ok = await request(wsPath(uniqueRoom()));
    expect(ok.status).toBe(426);
  });
});

/** POST /api/rooms/:room/tokens on a server whose vars are `vars` (default: the shipped ones). */
function mint(
  room: string,
  json: unknown,
  vars: Record<string, string | undefined> = { API_MINTS_JOIN_TOKENS: "true" },
) {
  return worker.fetch(
    new Request(`${ORIGIN}/api/rooms/${encodeURIComponent(room)}/tokens`, {
      method: "POST",
      headers: { Authorization: "Bearer test-broadcast-token", "Content-Type": "application/json" },
      body: JSON.stringify(json),
    }),
    { ...env, ...vars },
  );
}

describe("POST /api/rooms/:room/tokens", () => {
  it('is off unless API_MINTS_JOIN_TOKENS is "true": the broadcast token cannot impersonate', async () => {
    // The test Worker runs with wrangler.toml's vars, as shipped.
    const shipped = await api(`/rooms/private-team/tokens`, { method: "POST", json: { sub: "u" } });
    expect(shipped.status).toBe(403);
    expect(((await shipped.json()) as { error: string }).error).toMatch(/API_MINTS_JOIN_TOKENS/);
    for (const value of ["false", "", "1", "TRUE"]) {
      const res = await mint("private-team", { sub: "u" }, { API_MINTS_JOIN_TOKENS: value });
      expect(res.status).toBe(403);
    }
  });

  it("mints a token that lets the user into the private room, when switched on", async () => {
    const room = `private-${crypto.randomUUID()}`;
    const res = await mint(room, { sub: "u9", name: "Nine", ttl: 120 });
    expect(res.status).toBe(201);
    const { token, expiresAt } = (await res.json()) as { token: string; expiresAt: string };
    const lifetime = Date.parse(expiresAt) - Date.now();
    expect(lifetime).toBeGreaterThan(110_000);
    expect(lifetime).toBeLessThanOrEqual(120_000);
    const client = await connect(room, `token=${token}&rich=1`);
    try {
      await client.untilType("welcome");
      expect(client.ofType("welcome")[0]!.you).toEqual({ id: "u9", name: "Nine", verified: true });
    } finally {
      client.close();
    }
    // The token is for that room only.
    expect(await refusal(`private-${crypto.randomUUID()}`, `token=${token}`)).toMatchObject({
      status: 403,
    });
  });

  it("never mints a token for every room: '*' is not a room, on this route either", async () => {
    for (const star of ["*", "%2A", "%2a", "%EF%BC%8A"]) {
      const res = await worker.fetch(
        new Request(`${ORIGIN}/api/rooms/${star}/tokens`, {
          method: "POST",
          headers: {
            Authorization: "Bearer test-broadcast-token",
            "Content-Type": "application/json",
          },
          body: '{"sub":"u"}',
        }),
        { ...env, API_MINTS_JOIN_TOKENS: "true" },
      );
      expect({ star, status: res.status }).toEqual({ star, status: 400 });
      expect(((await res.json()) as { error: string }).error).toMatch(/'\*' is not a room name/);
    }
  });

  it.each([
    [{ name: "x" }, /"sub"/],
    [{ sub: "u", ttl: 0 }, /"ttl"/],
    [{ sub: "u", ttl: 86_401 }, /"ttl"/],
    [{ sub: "u", name: "x".repeat(40) }, /name/],
    [{ sub: "u", name: "ad\u200bmin" }, /invisible/],
  ])("refuses %j with 400", async (json, error) => {
    const res = await mint(uniqueRoom(), json);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(error);
  });

  it("needs the bearer token, and JOIN_SECRET on the server", async () => {
    const anonymous = await request(`/api/rooms/x/tokens`, { method: "POST", body: '{"sub":"u"}' });
    expect(anonymous.status).toBe(401);
    const res = await mint(
      "x",
      { sub: "u" },
      { API_MINTS_JOIN_TOKENS: "true", JOIN_SECRET: undefined },
    );
    expect(res.status).toBe(503);
  });
});

describe("moderation", () => {
  it("lists members with their ids and connection counts", async () => {
    const room = uniqueRoom();
    const token = await joinToken({ sub: "u1", name: "Ann", room });
    const clients = [
      await connect(room, `token=${token}`),
      await connect(room, `token=${token}`),
      await connect(room, "name=guest"),
    ];
    try {
      const { members } = (await (await api(`/rooms/${room}/members`)).json()) as {
        members: { id: string; name: string; verified: boolean; connections: number }[];
      };
      expect(members.toSorted((a, b) => a.name.localeCompare(b.name))).toEqual([
        { id: "u1", name: "Ann", verified: true, connections: 2 },
        {
          id: expect.stringMatching(/^[0-9a-f]{12}$/),
          name: "guest",
          verified: false,
          connections: 1,
        },
      ]);
    } finally {
      closeAll(clients);
    }
  });

  it("disconnects every socket of a member with close code 4001 and a reason", async () => {
    const room = uniqueRoom();
    const token = await joinToken({ sub: "troll", name: "Troll", room });
    const [tab1, tab2, bystander] = [
      await connect(room, `token=${token}`),
      await connect(room, `token=${token}`),
      await connect(room, "rich=1"),
    ];
    try {
      const res = await api(`/rooms/${room}/members/troll`, { method: "DELETE" });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ disconnected: 2, bannedUntil: null });
      for (const tab of [tab1!, tab2!]) {
        await tab.untilClosed();
        expect({ code: tab.closed!.code, reason: tab.closed!.reason }).toEqual({
          code: 4001,
          reason: "removed by a moderator",
        });
      }
      // Both tabs are one member: one leave in the bystander's list.
      await bystander!.until((c) => presentNames(c).length === 1, "the troll gone from the list");
      expect(presentNames(bystander!)).toHaveLength(1);
      const stats = (await (await api(`/rooms/${room}`)).json()) as { members: number };
      expect(stats.members).toBe(1);
    } finally {
      bystander!.close();
    }
  });

  it("bans a sub for a duration: close code 4003, then 403 on rejoin", async () => {
    const room = uniqueRoom();
    const token = await joinToken({ sub: "spammer", room });
    const spammer = await connect(room, `token=${token}`);
    const res = await api(`/rooms/${room}/members/spammer?ban=3600`, { method: "DELETE" });
    const body = (await res.json()) as { disconnected: number; bannedUntil: string };
    expect(body.disconnected).toBe(1);
    expect(Date.parse(body.bannedUntil) - Date.now()).toBeGreaterThan(3_590_000);
    await spammer.untilClosed();
    expect(spammer.closed!.code).toBe(4003);
    expect(spammer.closed!.reason).toMatch(/^banned until /);
    const again = await refusal(room, `token=${token}`);
    expect(again).toEqual({
      status: 403,
      error: expect.stringMatching(/banned from this room until/),
    });
  });

  it("answers 404 for a member who is not there", async () => {
    const res = await api(`/rooms/${uniqueRoom()}/members/nobody`, { method: "DELETE" });
    expect(res.status).toBe(404);
  });
});
