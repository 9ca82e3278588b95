import { describe, expect, it } from "vitest";
import { webhookSettings } from "../src/room-webhooks";

describe("webhook settings", () => {
  it("are off when WEBHOOK_URL is empty or unset", () => {
    expect(webhookSettings({})).toEqual({ ok: true, value: null });
    expect(webhookSettings({ WEBHOOK_URL: "  ", WEBHOOK_SECRET: "s" })).toEqual({
      ok: true,
      value: null,
    });
  });

  it("take the URL, key and secret", () => {
    expect(
      webhookSettings({ WEBHOOK_URL: "https://example.com/hook", WEBHOOK_SECRET: "s" }),
    ).toEqual({ ok: true, value: { url: "https://example.com/hook", key: "", secret: "s" } });
  });

  it.each([
    ["not a URL", { WEBHOOK_URL: "example.com/hook", WEBHOOK_SECRET: "s" }, /not a URL/],
    ["not http(s)", { WEBHOOK_URL: "ftp://example.com/", WEBHOOK_SECRET: "s" }, /http\(s\)/],
    ["unsigned", { WEBHOOK_URL: "https://example.com/hook" }, /WEBHOOK_SECRET is not/],
  ])("refuse a configuration that is %s, saying why", (_, vars, error) => {
    expect(webhookSettings(vars)).toEqual({ ok: false, error: expect.stringMatching(error) });
  });
});
