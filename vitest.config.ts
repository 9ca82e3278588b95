import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import {
  TEST_HISTORY_LIMIT,
  TEST_HISTORY_ON_JOIN,
  TEST_JOIN_SECRET,
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
        },
      },
    }),
  ],
  test: {
    include: ["test/**/*.test.ts"],
  },
});
