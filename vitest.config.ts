import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import {
  TEST_HISTORY_LIMIT,
  TEST_API_RATE_LIMIT,
  TEST_HISTORY_ON_JOIN,
  TEST_JOIN_SECRET,
  TEST_MAX_ROOM_CONNECTIONS,
  TEST_TOKEN,
} from "./test/test-env.ts";

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        // Small limits so trimming and rate limiting are quick to exercise.
        bindings: {
          BROADCAST_TOKEN: TEST_TOKEN,
          JOIN_SECRET: TEST_JOIN_SECRET,
          HISTORY_LIMIT: String(TEST_HISTORY_LIMIT),
          HISTORY_ON_JOIN: String(TEST_HISTORY_ON_JOIN),
          MAX_ROOM_CONNECTIONS: String(TEST_MAX_ROOM_CONNECTIONS),
        },
        ratelimits: {
          API_RATE_LIMITER: {
            namespace_id: "1001",
            simple: { limit: TEST_API_RATE_LIMIT, period: 10 },
          },
        },
      },
    }),
  ],
  test: {
    include: ["test/**/*.test.ts"],
    // The rooms' one-line JSON logs (src/log.ts) are for production, not test output.
    onConsoleLog: (log) => !log.startsWith('{"event":'),
  },
});
