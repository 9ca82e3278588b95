import { describe, expect, it } from "vitest";
import { webhookSettings } from "../src/webhooks/room-webhooks";

describe("webhook settings", () => {
  it("are off when WEBHOOK_URL is empty or unset", () => {
    expect(webhookSettings({})).toEqual({ ok: true, value: null });
    expect(webhookSettings({ WEBHOOK_URL: "  ", WEBHOOK_SECRET: "s" })).toEqual({
      ok: true,
      value: null,
    });
  });

  it("take the URL, key and secret; message events are off unless asked for", () => {
    const vars = { WEBHOOK_URL: "https://example.com/hook", WEBHOOK_KEY: "k", WEBHOOK_SECRET: "s" };
    expect(webhookSettings(vars)).toEqual({
      ok: true,
      value: {
        url: "https://example.com/hook",
        key: "k",
        secret: "s",
        messages: false,
        messageBacklog: 500,
      },
    });
    expect(webhookSettings({ ...vars, WEBHOOK_MESSAGES: "false" })).toMatchObject({
      value: { messages: false },
    });
    expect(webhookSettings({ ...vars, WEBHOOK_MESSAGES: "true" })).toMatchObject({
      value: { messages: true },
    });
  });

  it("keep half of HISTORY_LIMIT for a receiver that falls behind", () => {
    const vars = { WEBHOOK_URL: "https://example.com/hook", WEBHOOK_KEY: "k", WEBHOOK_SECRET: "s" };
    expect(webhookSettings({ ...vars, HISTORY_LIMIT: "31" })).toMatchObject({
      value: { messageBacklog: 15 },
    });
    expect(webhookSettings({ ...vars, HISTORY_LIMIT: "1" })).toMatchObject({
      value: { messageBacklog: 1 },
    });
  });

  it.each([
    ["not a URL", { WEBHOOK_URL: "example.com/hook", WEBHOOK_SECRET: "s" }, /not a URL/],
    ["not http(s)", { WEBHOOK_URL: "ftp://example.com/", WEBHOOK_SECRET: "s" }, /http\(s\)/],
    [
      "unsigned",
      { WEBHOOK_URL: "https://example.com/hook", WEBHOOK_KEY: "k" },
      /WEBHOOK_SECRET is not/,
    ],
    [
      "without a key",
      { WEBHOOK_URL: "https://example.com/hook", WEBHOOK_SECRET: "s" },
      /WEBHOOK_KEY is not/,
    ],
    [
      "with a blank key",
      { WEBHOOK_URL: "https://example.com/hook", WEBHOOK_KEY: "  ", WEBHOOK_SECRET: "s" },
      /WEBHOOK_KEY is not/,
    ],
    [
      "asking for messages with a word other than true or false",
      {
        WEBHOOK_URL: "https://example.com/hook",
        WEBHOOK_KEY: "k",
        WEBHOOK_SECRET: "s",
        WEBHOOK_MESSAGES: "yes",
      },
      /WEBHOOK_MESSAGES must be "true" or "false"/,
    ],
  ])("refuse a configuration that is %s, saying why", (_, vars, error) => {
    expect(webhookSettings(vars)).toEqual({ ok: false, error: expect.stringMatching(error) });
  });
});
