import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import {
  TEST_HISTORY_LIMIT,
  TEST_API_RATE_LIMIT,
  TEST_HISTORY_ON_JOIN,
  TEST_JOIN_SECRET,
  TEST_MAX_ROOM_CONNECTIONS,
  TEST_TOKEN,
  TEST_WEBHOOK_KEY,
  TEST_WEBHOOK_SECRET,
  TEST_WEBHOOK_URL,
  TEST_PUBLISH_HOOK_URL,
  TEST_PUBLISH_HOOK_TIMEOUT_MS,
} from "./test/test-env.ts";

const WEBHOOK_TESTS = "test/webhooks.test.ts";
const PUBLISH_HOOK_TESTS = "test/publish-hook.test.ts";
/** Tests of a room spread over relays: only in the "relays" project. */
const RELAY_TESTS = "test/relays.test.ts";
/**
 * Room tests that do not apply to a room over relays, each for a reason
 * given in docs/testing.md.
 */
const NOT_WITH_RELAYS: string[] = [];

/** The Worker as wrangler.toml describes it, with test secrets and small limits. */
function worker(extra: Record<string, string> = {}) {
  return cloudflareTest({
    wrangler: { configPath: "./wrangler.toml" },
    miniflare: {
      // Small limits so trimming and rate limiting are quick to exercise.
      bindings: {
        BROADCAST_TOKEN: TEST_TOKEN,
        JOIN_SECRET: TEST_JOIN_SECRET,
        HISTORY_LIMIT: String(TEST_HISTORY_LIMIT),
        HISTORY_ON_JOIN: String(TEST_HISTORY_ON_JOIN),
        MAX_ROOM_CONNECTIONS: String(TEST_MAX_ROOM_CONNECTIONS),
        ...extra,
      },
      ratelimits: {
        API_RATE_LIMITER: {
          namespace_id: "1001",
          simple: { limit: TEST_API_RATE_LIMIT, period: 10 },
        },
      },
    },
  });
}

// Two Workers: with webhooks on, every room in every test would post them,
// so only the webhook tests get a WEBHOOK_URL.
export default defineConfig({
  test: {
    // The rooms' one-line JSON logs (src/log.ts) are for production, not test output.
    onConsoleLog: (log) => !log.startsWith('{"event":'),
    projects: [
      {
        extends: true,
        plugins: [worker()],
        test: {
          name: "rooms",
          include: ["test/**/*.test.ts"],
          exclude: [WEBHOOK_TESTS, PUBLISH_HOOK_TESTS, RELAY_TESTS],
        },
      },
      {
        // The same room tests with every socket on one of three relays.
        extends: true,
        plugins: [worker({ ROOM_RELAYS: "3" })],
        test: {
          name: "relays",
          include: ["test/**/*.test.ts"],
          exclude: [WEBHOOK_TESTS, PUBLISH_HOOK_TESTS, ...NOT_WITH_RELAYS],
        },
      },
      {
        extends: true,
        plugins: [
          worker({
            WEBHOOK_URL: TEST_WEBHOOK_URL,
            WEBHOOK_KEY: TEST_WEBHOOK_KEY,
            WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
            WEBHOOK_MESSAGES: "true",
          }),
        ],
        test: { name: "webhooks", include: [WEBHOOK_TESTS] },
      },
      {
        extends: true,
        plugins: [
          worker({
            PUBLISH_HOOK_URL: TEST_PUBLISH_HOOK_URL,
            PUBLISH_HOOK_TIMEOUT_MS: String(TEST_PUBLISH_HOOK_TIMEOUT_MS),
            WEBHOOK_KEY: TEST_WEBHOOK_KEY,
            WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
          }),
        ],
        test: { name: "publish-hook", include: [PUBLISH_HOOK_TESTS] },
      },
    ],
  },
});
