import { describe, expect, it } from "vitest";
import worker from "../src/worker/index";
import { env } from "cloudflare:workers";
import {
  api,
  closeAll,
  connect,
  inject,
  ORIGIN,
  request,
  TEST_TOKEN,
  uniqueRoom,
  wsPath,
} from "./helpers";

const post = (room: string, init: RequestInit) =>
  request(`/api/rooms/${encodeURIComponent(room)}/messages`, { method: "POST", ...init });

describe("POST /api/rooms/:room/messages", () => {
  it("stores and broadcasts into the room and reports how many sockets it reached", async () => {
    const room = uniqueRoom();
    const [a, b] = [await connect(room), await connect(room, "rich=1")];
    try {
      const res = await inject(room, "deploy finished", "ci");
      expect(res.status).toBe(201);
      expect(await res.json()).toEqual({ id: 1, delivered: 2 });
      await Promise.all([a.untilChats(1), b.untilChats(1)]);
      expect(a.chats()[0]).toMatchObject({
        type: "chat",
        id: 1,
        user: "ci",
        message: "deploy finished",
      });
    } finally {
      closeAll([a, b]);
    }
  });

  it("names injected messages 'api' when no user is given", async () => {
    const room = uniqueRoom();
    await inject(room, "hello");
    const body = (await (await api(`/rooms/${room}/messages`)).json()) as {
      messages: { user: string }[];
    };
    expect(body.messages[0]!.user).toBe("api");
  });

  describe("refuses, broadcasting nothing", () => {
    const json = { "Content-Type": "application/json", Authorization: `Bearer ${TEST_TOKEN}` };
    const cases: [string, RequestInit, number, RegExp][] = [
      [
        "no token",
        { headers: { "Content-Type": "application/json" }, body: '{"message":"x"}' },
        401,
        /bearer token/,
      ],
      [
        "a wrong token",
        { headers: { ...json, Authorization: "Bearer nope" }, body: '{"message":"x"}' },
        401,
        /bearer token/,
      ],
      [
        "a malformed Authorization header",
        { headers: { ...json, Authorization: "Basic abc" }, body: '{"message":"x"}' },
        401,
        /bearer token/,
      ],
      ["malformed JSON", { headers: json, body: "{nope" }, 400, /Malformed JSON/],
      ["a missing message", { headers: json, body: '{"text":"x"}' }, 400, /"message"/],
      ["a non-string message", { headers: json, body: '{"message":5}' }, 400, /"message"/],
      ["an array body", { headers: json, body: "[]" }, 400, /body must be JSON like/],
      ["an empty message", { headers: json, body: '{"message":""}' }, 400, /empty/],
      [
        "a message over MAX_MESSAGE_CHARS",
        { headers: json, body: JSON.stringify({ message: "x".repeat(2001) }) },
        400,
        /longer than 2000/,
      ],
      [
        "a user with a control character",
        { headers: json, body: '{"message":"x","user":"a\\u0000b"}' },
        400,
        /invalid user/,
      ],
      ["a non-string user", { headers: json, body: '{"message":"x","user":7}' }, 400, /"user"/],
      [
        "a body without Content-Type: application/json",
        { headers: { Authorization: json.Authorization }, body: '{"message":"x"}' },
        400,
        /Content-Type/,
      ],
      [
        "a body over 256 KiB",
        { headers: json, body: JSON.stringify({ message: "x".repeat(270_000) }) },
        413,
        /larger than/,
      ],
    ];

    it.each(cases)("%s", async (_what, init, status, error) => {
      const room = uniqueRoom();
      const listener = await connect(room);
      try {
        const res = await post(room, init);
        expect(res.status).toBe(status);
        expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
        expect(((await res.json()) as { error: string }).error).toMatch(error);
        await listener.quiet();
        expect(listener.frames).toEqual([]);
      } finally {
        listener.close();
      }
    });
  });

  it("answers 503 when the server has no BROADCAST_TOKEN, whatever the client sends", async () => {
    const noToken = { ...env, BROADCAST_TOKEN: "" };
    for (const auth of ["Bearer ", "Bearer anything", ""]) {
      const res = await worker.fetch(
        new Request(`${ORIGIN}/api/rooms/lobby/messages`, {
          method: "POST",
          headers: { Authorization: auth, "Content-Type": "application/json" },
          body: '{"message":"x"}',
        }),
        noToken,
      );
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: string }).error).toMatch(/not configured/);
    }
  });
});

describe("GET /api/rooms/:room", () => {
  it("returns the member count, names and last id", async () => {
    const room = uniqueRoom();
    const clients = [await connect(room, "name=alice"), await connect(room, "name=bob")];
    try {
      await inject(room, "x");
      const res = await api(`/rooms/${room}`);
      expect(res.status).toBe(200);
      const stats = (await res.json()) as {
        room: string;
        members: number;
        names: string[];
        lastId: number;
        relays?: unknown;
      };
      // With ROOM_RELAYS > 1 the stats also list the relays (test/relays.test.ts).
      const { relays: _relays, ...common } = stats;
      expect({ ...common, names: stats.names.toSorted() }).toEqual({
        room,
        members: 2,
        names: ["alice", "bob"],
        lastId: 1,
      });
    } finally {
      closeAll(clients);
    }
  });

  it("needs the token", async () => {
    expect((await request(`/api/rooms/${uniqueRoom()}`)).status).toBe(401);
  });
});

describe("room names", () => {
  it("accepts 技术交流 end to end: socket, inject and stats", async () => {
    const room = "技术交流";
    const client = await connect(room, "name=李雷");
    try {
      const res = await inject(room, "你好");
      expect(res.status).toBe(201);
      await client.untilChats(1);
      expect(client.chats().at(-1)).toMatchObject({ message: "你好" });
      const stats = (await (await api(`/rooms/${encodeURIComponent(room)}`)).json()) as {
        room: string;
        names: string[];
      };
      expect(stats.room).toBe(room);
      expect(stats.names).toContain("李雷");
    } finally {
      client.close();
    }
  });

  it("treats the NFC and NFD spellings of a name as the same room", async () => {
    const nfc = `café-${crypto.randomUUID()}`;
    const nfd = nfc.normalize("NFD");
    const client = await connect(nfd);
    try {
      await inject(nfc, "same room");
      await client.untilChats(1);
      expect(client.chats()[0]!.message).toBe("same room");
    } finally {
      client.close();
    }
  });

  const invalid: [string, string][] = [
    ["an encoded slash", "a%2Fb"],
    ["broken percent-encoding", "100%"],
    ["a control character", "a%00b"],
    ["65 characters", "x".repeat(65)],
    ["leading whitespace", "%20lobby"],
  ];

  it.each(invalid)("refuses %s with 400 on every route", async (_what, segment) => {
    const routes: [string, RequestInit][] = [
      [`/ws/chat/${segment}/`, { headers: { Upgrade: "websocket" } }],
      [`/api/rooms/${segment}`, { headers: { Authorization: `Bearer ${TEST_TOKEN}` } }],
      [`/api/rooms/${segment}/messages`, { headers: { Authorization: `Bearer ${TEST_TOKEN}` } }],
      [
        `/api/rooms/${segment}/messages`,
        {
          method: "POST",
          headers: { Authorization: `Bearer ${TEST_TOKEN}`, "Content-Type": "application/json" },
          body: '{"message":"x"}',
        },
      ],
    ];
    for (const [path, init] of routes) {
      const res = await request(path, init);
      expect({ path, status: res.status, body: await res.json() }).toEqual({
        path,
        status: 400,
        body: { error: expect.stringMatching(/^invalid room/) },
      });
    }
  });

  it("accepts 64 characters of emoji", async () => {
    const room = "🙂".repeat(63) + crypto.randomUUID().slice(0, 1);
    const client = await connect(room, "rich=1");
    await client.untilType("welcome");
    expect(client.ofType("welcome")[0]!.room).toBe(room);
    client.close();
  });
});

describe("the WebSocket route", () => {
  it("answers a plain GET with 426 and an Upgrade header", async () => {
    const res = await request(wsPath("lobby"));
    expect(res.status).toBe(426);
    expect(res.headers.get("Upgrade")).toBe("websocket");
    expect(((await res.json()) as { error: string }).error).toMatch(/WebSocket/);
  });

  it("works without the trailing slash", async () => {
    const res = await request(`/ws/chat/${uniqueRoom()}`, { headers: { Upgrade: "websocket" } });
    expect(res.status).toBe(101);
    res.webSocket!.accept();
    res.webSocket!.close();
  });

  it.each([
    ["another site", "https://evil.example"],
    ["a malformed Origin", "null"],
    // Same host, other scheme: a page served over plain http may have been
    // written by anyone on the network path.
    ["the same host over http", ORIGIN.replace("https:", "http:")],
    ["the same host on another port", `${ORIGIN}:8443`],
  ])("refuses an upgrade from %s (Origin: %s) with 403", async (_what, origin) => {
    const res = await request(wsPath(uniqueRoom()), {
      headers: { Upgrade: "websocket", Origin: origin },
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toMatch(/ALLOWED_ORIGINS/);
  });

  it("accepts an upgrade from the page's own origin", async () => {
    const res = await request(wsPath(uniqueRoom()), {
      headers: { Upgrade: "websocket", Origin: ORIGIN },
    });
    expect(res.status).toBe(101);
    res.webSocket!.accept();
    res.webSocket!.close();
  });

  it("lets origins listed in ALLOWED_ORIGINS in", async () => {
    const withAllowed = {
      ...env,
      ALLOWED_ORIGINS: "https://app.example.com, https://other.example",
    };
    const res = await worker.fetch(
      new Request(`${ORIGIN}${wsPath(uniqueRoom())}`, {
        headers: { Upgrade: "websocket", Origin: "https://app.example.com" },
      }),
      withAllowed,
    );
    expect(res.status).toBe(101);
    res.webSocket!.accept();
    res.webSocket!.close();
  });

  it("answers unknown paths with a JSON 404", async () => {
    const missing = await request("/api/nothing", {
      headers: { Authorization: `Bearer ${TEST_TOKEN}` },
    });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: "not found" });
  });
});
