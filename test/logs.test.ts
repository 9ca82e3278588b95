import { afterEach, describe, expect, it, vi } from "vitest";
import { sign } from "hono/jwt";
import { logger } from "../src/log";
import { closeAll, connect, inject, TEST_TOKEN, uniqueRoom } from "./helpers";
import { TEST_JOIN_SECRET } from "./test-env";

function captureLogs(): string[] {
  const lines: string[] = [];
  const keep = (...args: unknown[]) => void lines.push(args.map(String).join(" "));
  vi.spyOn(console, "log").mockImplementation(keep);
  vi.spyOn(console, "error").mockImplementation(keep);
  return lines;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("logs", () => {
  it("write one JSON line per connect, inject and disconnect, without tokens, text or names", async () => {
    const lines = captureLogs();
    const room = uniqueRoom();
    const joinToken = await sign(
      { sub: "user-7", name: "Secret Agent", room, exp: Math.floor(Date.now() / 1000) + 60 },
      TEST_JOIN_SECRET,
    );
    const agent = await connect(room, `token=${joinToken}`);
    const guest = await connect(room, "name=Mallory%20Guest");
    agent.send({ message: "the launch code is 0000" });
    await guest.untilChats(1);
    await inject(room, "classified memo", "Deep Throat");
    await guest.untilChats(2);
    closeAll([agent, guest]);
    await agent.untilClosed();

    const events = lines.map((l) => JSON.parse(l) as { event: string; room?: string });
    expect(events.filter((e) => e.event === "connect")).toHaveLength(2);
    expect(events.filter((e) => e.event === "inject")).toHaveLength(1);
    expect(events.every((e) => e.room === room)).toBe(true);
    const all = lines.join("\n");
    for (const secret of [
      TEST_TOKEN,
      joinToken,
      "launch code",
      "classified",
      "Secret Agent",
      "Mallory",
      "Deep Throat",
    ])
      expect(all).not.toContain(secret);
  });

  it("follow LOG_LEVEL: warn keeps refusals and errors, drops the per-socket lines", () => {
    const lines = captureLogs();
    const warn = logger("warn");
    warn("connect", { room: "r" });
    warn("inject", { room: "r" });
    warn("refused", { room: "r", reason: "room full" });
    warn("error", { path: "/x", error: "TypeError" });
    logger("error")("moderate", { room: "r" });
    logger(undefined)("disconnect", { room: "r" });
    expect(lines.map((l) => JSON.parse(l).event)).toEqual(["refused", "error", "disconnect"]);
  });
});
