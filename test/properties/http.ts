/**
 * @module http
 * The HTTP half of every property: no 5xx, errors are JSON with a reason.
 */
import { expect } from "vitest";
import { randomAddress, request, TEST_TOKEN } from "../helpers";

export interface HttpAnswer {
  status: number;
  json: { error?: unknown } & Record<string, unknown>;
  contentType: string;
}

/** Reads an answer: its status must be one of `allowed`, errors must be `{"error": "<reason>"}`. */
export async function answer(res: Response, allowed: number[]): Promise<HttpAnswer> {
  const contentType = res.headers.get("Content-Type") ?? "";
  if (res.status === 101) {
    res.webSocket?.accept();
    res.webSocket?.close(1000, "done");
    return { status: 101, json: {}, contentType };
  }
  const text = await res.text();
  expect(allowed, `status ${res.status}: ${text.slice(0, 200)}`).toContain(res.status);
  expect(contentType).toMatch(/^application\/json/);
  const json = JSON.parse(text) as HttpAnswer["json"];
  if (res.status >= 400) {
    expect(typeof json.error).toBe("string");
    expect((json.error as string).length).toBeGreaterThan(0);
  }
  return { status: res.status, json, contentType };
}

export const upgrade = { Upgrade: "websocket" };

/**
 * The token, from a fresh client address each time: the API is rate-limited
 * per address, and these tests are about parsing, not about that limit.
 */
export function bearer(): Record<string, string> {
  return { Authorization: `Bearer ${TEST_TOKEN}`, "CF-Connecting-IP": randomAddress() };
}

export function postMessage(room: string, body: BodyInit, headers: HeadersInit = {}) {
  return request(`/api/rooms/${encodeURIComponent(room)}/messages`, {
    method: "POST",
    headers: { ...bearer(), "Content-Type": "application/json", ...headers },
    body,
  });
}
