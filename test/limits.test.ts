import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../src/worker/index";
import {
  Client,
  closeAll,
  ORIGIN,
  randomAddress,
  request,
  TEST_TOKEN,
  uniqueRoom,
  wsPath,
} from "./helpers";
import { TEST_API_RATE_LIMIT, TEST_MAX_ROOM_CONNECTIONS } from "./test-env";

/** Sends requests from one address until the first 429; the limiter's window is wall-clock aligned, so allow one rollover. */
async function hammer(
  headers: Record<string, string>,
  path: string,
): Promise<{ statuses: number[]; limited: Response | null }> {
  const statuses: number[] = [];
  for (let i = 0; i <= 2 * TEST_API_RATE_LIMIT; i++) {
    const res = await request(path, { headers });
    statuses.push(res.status);
    if (res.status === 429) return { statuses, limited: res };
    await res.body?.cancel();
  }
  return { statuses, limited: null };
}

describe("API rate limit", () => {
  it("answers 429 with Retry-After once an address goes over the limit; other addresses are unaffected", async () => {
    const room = uniqueRoom();
    const address = randomAddress();
    const { statuses, limited } = await hammer(
      { Authorization: `Bearer ${TEST_TOKEN}`, "CF-Connecting-IP": address },
      `/api/rooms/${room}`,
    );
    expect(limited).not.toBeNull();
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(TEST_API_RATE_LIMIT);
    expect(limited!.headers.get("Retry-After")).toBe("10");
    expect(await limited!.json()).toEqual({
      error: "too many API requests from this address: wait a few seconds",
    });

    const other = await request(`/api/rooms/${room}`, {
      headers: { Authorization: `Bearer ${TEST_TOKEN}` },
    });
    expect(other.status).toBe(200);
  });

  it("throttles wrong tokens too, so tokens cannot be guessed at full speed", async () => {
    const { statuses } = await hammer(
      { Authorization: "Bearer guess", "CF-Connecting-IP": randomAddress() },
      "/api/rooms/lobby",
    );
    expect(new Set(statuses)).toEqual(new Set([401, 429]));
  });
});

describe("room connection limit", () => {
  it("refuses the connection over MAX_ROOM_CONNECTIONS with 503 before the upgrade, and keeps serving the others", async () => {
    const room = uniqueRoom();
    const responses = await Promise.all(
      Array.from({ length: TEST_MAX_ROOM_CONNECTIONS }, () =>
        request(wsPath(room), { headers: { Upgrade: "websocket" } }),
      ),
    );
    expect(responses.every((r) => r.status === 101)).toBe(true);
    const clients = responses.map((r) => new Client(r.webSocket!));
    try {
      const over = await request(wsPath(room), { headers: { Upgrade: "websocket" } });
      expect(over.status).toBe(503);
      expect(over.headers.get("Retry-After")).toBe("30");
      expect(await over.json()).toEqual({
        error: `this room is full: at most ${TEST_MAX_ROOM_CONNECTIONS} connections`,
      });
      clients[0]!.send({ message: "still works" });
      await clients.at(-1)!.untilChats(1);
    } finally {
      closeAll(clients);
    }
  }, 30_000);
});

describe("name limit", () => {
  it("follows MAX_NAME_CHARS", async () => {
    const res = await worker.fetch(
      new Request(`${ORIGIN}${wsPath(uniqueRoom(), "name=abcdef")}`, {
        headers: { Upgrade: "websocket" },
      }),
      { ...env, MAX_NAME_CHARS: "5" },
    );
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: "invalid name: name is longer than 5 characters" });
  });
});
