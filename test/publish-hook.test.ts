// The publish hook inside workerd. This file runs in its own vitest project
// with PUBLISH_HOOK_URL set (vitest.config.ts); the site's hook is a stub of
// the global fetch, which the room objects share with the tests, so a test
// can hold a call open, answer it late or answer it wrong.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { PublishHook, publishHookSettings, type HookAnswer } from "../src/room/publish-hook";
import { api, closeAll, connect, uniqueRoom, type Client, type Frame } from "./helpers";
import { TEST_PUBLISH_HOOK_URL, TEST_WEBHOOK_KEY, TEST_WEBHOOK_SECRET } from "./test-env";

/** docs/http-api.md: the body the room POSTs to the hook. */
interface HookCall {
  time_ms: number;
  room: string;
  member: { id: string; name: string; verified: boolean };
  message: string;
  clientId?: string;
}

interface Received {
  call: HookCall;
  key: string | null;
  signed: boolean;
}

type Handler = (call: HookCall) => Response | Promise<Response>;

const received = new Map<string, Received[]>();
const handlers = new Map<string, Handler>();

async function verify(body: string, signature: string | null): Promise<boolean> {
  if (!signature || !/^[0-9a-f]{64}$/.test(signature)) return false;
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey(
    "raw",
    enc.encode(TEST_WEBHOOK_SECRET),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  const bytes = new Uint8Array(signature.match(/../g)!.map((h) => parseInt(h, 16)));
  return crypto.subtle.verify("HMAC", key, bytes, enc.encode(body));
}

beforeAll(() => {
  const realFetch = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    if (!request.url.startsWith(TEST_PUBLISH_HOOK_URL)) return realFetch(input, init);
    const body = await request.text();
    const call = JSON.parse(body) as HookCall;
    const list = received.get(call.room) ?? [];
    list.push({
      call,
      key: request.headers.get("X-Pusher-Key"),
      signed: await verify(body, request.headers.get("X-Pusher-Signature")),
    });
    received.set(call.room, list);
    const handler = handlers.get(call.room) ?? (() => new Response(null, { status: 204 }));
    // A held call gives up when the room aborts it, as a real fetch would.
    return new Promise<Response>((resolve, reject) => {
      init?.signal?.addEventListener("abort", () => reject(new Error("aborted")));
      Promise.resolve(handler(call)).then(resolve, reject);
    });
  });
});
afterAll(() => vi.restoreAllMocks());

function calls(room: string): HookCall[] {
  return (received.get(room) ?? []).map((r) => r.call);
}

async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function join(room: string, name: string): Promise<Client> {
  const client = await connect(room, `rich=1&name=${name}`);
  await client.untilType("welcome");
  return client;
}

/** A promise the test settles when it chooses: a hook call held open. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

const allow = () => new Response(null, { status: 204 });
const json = (body: unknown, status = 200) => Response.json(body, { status });

function errors(client: Client): Frame[] {
  return client.ofType("error");
}

describe("what the site answers", () => {
  it("is asked with the room, the member, the text and the clientId, signed with WEBHOOK_SECRET", async () => {
    const room = uniqueRoom("hook");
    const ada = await join(room, "ada");
    try {
      ada.send({ message: "hello", clientId: "c1" });
      await ada.untilChats(1);
      const [first] = received.get(room)!;
      expect(first!.signed).toBe(true);
      expect(first!.key).toBe(TEST_WEBHOOK_KEY);
      expect(first!.call).toMatchObject({
        room,
        member: { name: "ada", verified: false },
        message: "hello",
        clientId: "c1",
      });
      expect(first!.call.member.id).toBe(ada.ofType("welcome")[0]!.you.id);
      expect(Math.abs(Date.now() - first!.call.time_ms)).toBeLessThan(5000);
    } finally {
      ada.close();
    }
  });

  it("denies: the sender gets the reason with its clientId, nobody gets the message, nothing is stored", async () => {
    const room = uniqueRoom("hook");
    handlers.set(room, () => json({ action: "deny", reason: "No links, please." }));
    const [ada, bob] = [await join(room, "ada"), await join(room, "bob")];
    try {
      ada.send({ message: "http://spam", clientId: "c1" });
      await ada.untilType("error");
      expect(errors(ada)).toEqual([
        { type: "error", code: "refused", message: "No links, please.", clientId: "c1" },
      ]);
      await bob.quiet();
      expect([...ada.chats(), ...bob.chats()]).toEqual([]);
      const history = (await (await api(`/rooms/${room}/messages`)).json()) as Frame;
      expect(history.messages).toEqual([]);
    } finally {
      closeAll([ada, bob]);
    }
  });

  it("replaces: everyone gets the site's text and name instead", async () => {
    const room = uniqueRoom("hook");
    handlers.set(room, (c) =>
      json({ action: "replace", message: c.message.replace("darn", "****"), user: "Ada L." }),
    );
    const [ada, bob] = [await join(room, "ada"), await join(room, "bob")];
    try {
      ada.send({ message: "darn it", clientId: "c1" });
      await bob.untilChats(1);
      await ada.untilChats(1);
      for (const c of [ada, bob])
        expect(c.chats()[0]).toMatchObject({ message: "**** it", user: "Ada L." });
      expect(ada.chats()[0]!.clientId).toBe("c1");
    } finally {
      closeAll([ada, bob]);
    }
  });

  it.each([
    ["a 500", () => json({ action: "allow" }, 500)],
    ["a body that is not JSON", () => new Response("<html>ok</html>")],
    ["an unknown action", () => json({ action: "maybe" })],
    ["a replacement that is empty", () => json({ action: "replace", message: "  " })],
    [
      "a replacement name with a control character",
      () => json({ action: "replace", user: "a\u0007" }),
    ],
    ["a redirect", () => new Response(null, { status: 302, headers: { Location: "/x" } })],
  ])("refuses the message as unavailable on %s (failure policy closed)", async (_what, answer) => {
    const room = uniqueRoom("hook");
    handlers.set(room, answer);
    const [ada, bob] = [await join(room, "ada"), await join(room, "bob")];
    try {
      ada.send({ message: "hi", clientId: "c1" });
      await ada.untilType("error");
      expect(errors(ada)[0]).toMatchObject({ code: "unavailable", clientId: "c1" });
      await bob.quiet();
      expect(bob.chats()).toEqual([]);
    } finally {
      closeAll([ada, bob]);
    }
  });

  it("answers the resend of a stored message with its receipt without asking again", async () => {
    const room = uniqueRoom("hook");
    const ada = await join(room, "ada");
    try {
      ada.send({ message: "once", clientId: "c1" });
      await ada.untilChats(1);
      ada.send({ message: "once", clientId: "c1" });
      await ada.untilChats(2);
      expect(ada.chats()[1]!.id).toBe(ada.chats()[0]!.id);
      expect(calls(room)).toHaveLength(1);
    } finally {
      ada.close();
    }
  });

  it("is not asked about messages injected over the API", async () => {
    const room = uniqueRoom("hook");
    handlers.set(room, () => json({ action: "deny", reason: "no" }));
    const bob = await join(room, "bob");
    try {
      const res = await api(`/rooms/${room}/messages`, {
        method: "POST",
        json: { message: "from the backend" },
      });
      expect(res.status).toBe(201);
      await bob.untilChats(1);
      expect(calls(room)).toEqual([]);
    } finally {
      bob.close();
    }
  });
});

describe("while the site is asked", () => {
  it("stores each sender's messages in the order sent, asking about one at a time", async () => {
    const room = uniqueRoom("hook");
    let open = 0;
    let mostOpen = 0;
    // The first answer is the slowest: without per-sender order, "two" and
    // "three" would overtake it.
    handlers.set(room, async (c) => {
      mostOpen = Math.max(mostOpen, ++open);
      await new Promise((r) => setTimeout(r, c.message === "one" ? 300 : 10));
      open--;
      return allow();
    });
    const [ada, bob] = [await join(room, "ada"), await join(room, "bob")];
    try {
      for (const m of ["one", "two", "three"]) ada.send({ message: m });
      await bob.untilChats(3);
      expect(bob.chats().map((c) => c.message)).toEqual(["one", "two", "three"]);
      const ids = bob.chats().map((c) => c.id as number);
      expect(ids).toEqual(ids.toSorted((a, b) => a - b));
      expect(mostOpen).toBe(1);
    } finally {
      closeAll([ada, bob]);
    }
  });

  it("keeps serving the other members: their messages and joins go on", async () => {
    const room = uniqueRoom("hook");
    const held = gate();
    handlers.set(room, async (c) => {
      if (c.member.name === "slow") await held.wait;
      return allow();
    });
    const [slow, bob] = [await join(room, "slow"), await join(room, "bob")];
    let carol: Client | null = null;
    try {
      slow.send({ message: "waiting" });
      await until("the held call", () => calls(room).length === 1);
      bob.send({ message: "meanwhile" });
      await slow.untilChats(1);
      carol = await join(room, "carol");
      await carol.untilChats(1);
      expect(carol.chats().map((c) => c.message)).toEqual(["meanwhile"]);
      expect(bob.chats().map((c) => c.message)).toEqual(["meanwhile"]);
      held.open();
      await bob.untilChats(2);
      expect(bob.chats().map((c) => c.message)).toEqual(["meanwhile", "waiting"]);
    } finally {
      held.open();
      closeAll([slow, bob, ...(carol ? [carol] : [])]);
    }
  });

  it("refuses past 32 calls in flight per room and 8 waiting per sender as busy, and keeps nothing of them", async () => {
    const room = uniqueRoom("hook");
    const held = gate();
    handlers.set(room, async () => {
      await held.wait;
      return allow();
    });
    const senders: Client[] = [];
    const observer = await join(room, "observer");
    try {
      for (let i = 0; i < 33; i++) senders.push(await join(room, `s${i}`));
      for (let i = 0; i < 32; i++) senders[i]!.send({ message: `first from s${i}` });
      await until("32 calls in flight", () => calls(room).length === 32);
      senders[32]!.send({ message: "one too many", clientId: "late" });
      await senders[32]!.untilType("error");
      expect(errors(senders[32]!)[0]).toMatchObject({ code: "busy", clientId: "late" });

      // s0 has one in flight: seven more may wait behind it, the ninth may not.
      for (let i = 2; i <= 9; i++) senders[0]!.send({ message: `s0 #${i}`, clientId: `m${i}` });
      await senders[0]!.untilType("error");
      expect(errors(senders[0]!)).toEqual([
        expect.objectContaining({ code: "busy", clientId: "m9" }),
      ]);

      held.open();
      await observer.untilChats(32 + 7);
      await observer.quiet();
      const got = observer.chats().map((c) => c.message as string);
      expect(got).toHaveLength(39);
      expect(got).not.toContain("one too many");
      expect(got).not.toContain("s0 #9");
      expect(got.filter((m) => m.startsWith("s0 "))).toEqual(
        [2, 3, 4, 5, 6, 7, 8].map((i) => `s0 #${i}`),
      );
    } finally {
      held.open();
      closeAll([observer, ...senders]);
    }
  });
});

describe("the hook's configuration", () => {
  const limits = { maxMessageChars: 2000, maxNameChars: 32 };
  const secret = { WEBHOOK_SECRET: "s" };

  it("is off without PUBLISH_HOOK_URL, and fails closed after 1500 ms by default", () => {
    expect(publishHookSettings({ ...secret, PUBLISH_HOOK_URL: " " }, limits)).toEqual({
      ok: true,
      value: null,
    });
    expect(
      publishHookSettings({ ...secret, PUBLISH_HOOK_URL: "https://site.test/hook" }, limits),
    ).toMatchObject({ ok: true, value: { timeoutMs: 1500, failure: "closed", secret: "s" } });
  });

  it.each([
    [{ PUBLISH_HOOK_URL: "https://site.test/hook" }, "WEBHOOK_SECRET"],
    [{ ...secret, PUBLISH_HOOK_URL: "ftp://site.test/hook" }, "http(s)"],
    [{ ...secret, PUBLISH_HOOK_URL: "not a url" }, "not a URL"],
    [{ ...secret, PUBLISH_HOOK_URL: "https://a.test", PUBLISH_HOOK_FAILURE: "maybe" }, "closed"],
    [{ ...secret, PUBLISH_HOOK_URL: "https://a.test", PUBLISH_HOOK_TIMEOUT_MS: "0" }, "1 to 30000"],
    [
      { ...secret, PUBLISH_HOOK_URL: "https://a.test", PUBLISH_HOOK_TIMEOUT_MS: "1.5" },
      "1 to 30000",
    ],
  ])("refuses %o as a configuration error naming %s", (vars, naming) => {
    const parsed = publishHookSettings(vars, limits);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? "" : parsed.error).toContain(naming);
  });

  it("refuses every message as unavailable when misconfigured, without calling anything", async () => {
    const answers: HookAnswer[] = [];
    const hook = PublishHook.fromEnv(
      { PUBLISH_HOOK_URL: `${TEST_PUBLISH_HOOK_URL}/misconfigured` },
      limits,
      "room",
      () => {},
      (_ask, answer) => answers.push(answer),
    );
    hook!.submit({} as WebSocket, { id: "m", name: "ada", verified: false }, "hi", "c1");
    await until("the answer", () => answers.length === 1);
    expect(answers[0]).toMatchObject({ ok: false, error: { code: "unavailable", clientId: "c1" } });
    expect(calls("room")).toEqual([]);
  });

  it("keeps asking about a sender's next messages when storing one of them failed", async () => {
    const room = uniqueRoom("hook-unit");
    const answered: string[] = [];
    const hook = PublishHook.fromEnv(
      { PUBLISH_HOOK_URL: TEST_PUBLISH_HOOK_URL, WEBHOOK_SECRET: TEST_WEBHOOK_SECRET },
      limits,
      room,
      () => {},
      (ask) => {
        answered.push(ask.message);
        if (ask.message === "first") throw new Error("storage failed");
      },
    );
    const member = { id: "m", name: "ada", verified: false };
    hook!.submit({} as WebSocket, member, "first", undefined);
    hook!.submit({} as WebSocket, member, "second", undefined);
    await until("both answers", () => answered.length === 2);
    hook!.submit({} as WebSocket, member, "third", undefined);
    await until("the third answer", () => answered.length === 3);
    expect(answered).toEqual(["first", "second", "third"]);
  });
});
