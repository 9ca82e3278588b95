import { afterEach, describe, expect, it, vi } from "vitest";
import { sign } from "hono/jwt";
import { ACTIVITY_INTERVAL_MS } from "../src/room/activity-log";
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
  it("sum up connects, injects and disconnects in one line per interval, without tokens, text or names", async () => {
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
    await guest.untilClosed();
    await new Promise((r) => setTimeout(r, ACTIVITY_INTERVAL_MS + 300));

    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const activity = events.filter((e) => e.event === "activity");
    // Everything above happened within one interval or two: one or two lines, not five.
    expect(activity.length).toBeGreaterThanOrEqual(1);
    expect(activity.length).toBeLessThanOrEqual(2);
    const sum = (k: string) => activity.reduce((a, e) => a + (e[k] as number), 0);
    expect([sum("connected"), sum("injected"), sum("disconnected")]).toEqual([2, 1, 2]);
    expect(activity.at(-1)!.members).toBe(0);
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
    warn("activity", { room: "r", connected: 1 });
    warn("refused", { room: "r", reason: "room full" });
    warn("error", { path: "/x", error: "TypeError" });
    logger("error")("moderate", { room: "r" });
    logger(undefined)("activity", { room: "r", disconnected: 1 });
    expect(lines.map((l) => JSON.parse(l).event)).toEqual(["refused", "error", "activity"]);
  });
});
