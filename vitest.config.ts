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

const ROOM_TESTS = ["test/**/*.test.ts"];
const EXCLUDED_FROM_ROOMS = [WEBHOOK_TESTS, PUBLISH_HOOK_TESTS];
/**
 * Room test files that need a worker of their own: logs.test.ts reads every
 * log line the process writes (other files' rooms log too), api.test.ts uses
 * the fixed room 技术交流 that pages.test.ts and the room-name properties use
 * as well, and presence-diffs.test.ts (hundreds of synchronous generated
 * runs) took minutes instead of seconds in a worker that earlier files had
 * filled.
 */
const OWN_WORKER = [
  "test/logs.test.ts",
  "test/api.test.ts",
  "test/properties/presence-diffs.test.ts",
];

/**
 * A project of room test files that share one worker (isolate: false), and
 * one for OWN_WORKER files, each in a fresh one. Sharing saves the worker's
 * start (1.5 s to 4 s a file on the 2-core CI machine). The shared worker
 * keeps every earlier file's rooms and rate-limit counters: the files there
 * use rooms and addresses of their own, and passed that way (2026-12-03).
 */
function shared(name: string, vars: Record<string, string>, include: string[], exclude: string[]) {
  return [
    {
      extends: true as const,
      plugins: [worker(vars)],
      test: { name, include, exclude: [...exclude, ...OWN_WORKER], isolate: false },
    },
    {
      extends: true as const,
      plugins: [worker(vars)],
      test: { name: `${name}-own-worker`, include: OWN_WORKER, exclude },
    },
  ];
}

// Two Workers: with webhooks on, every room in every test would post them,
// so only the webhook tests get a WEBHOOK_URL.
export default defineConfig({
  test: {
    // The rooms' one-line JSON logs (src/log.ts) are for production, not test output.
    onConsoleLog: (log) => !log.startsWith('{"event":'),
    // Two files at a time on the 2-core CI machine: the webhook files spend
    // most of their minute asleep on real timers (retries, backoff, the leave
    // grace period), so another file runs meanwhile.
    maxWorkers: 2,
    // A harness limit, not a speed goal: the default 5 s timed out property
    // tests on a machine shared with other test runs.
    testTimeout: 30_000,
    projects: [
      ...shared("rooms", {}, ROOM_TESTS, [...EXCLUDED_FROM_ROOMS, RELAY_TESTS]),
      // The same room tests with every socket on one of three relays.
      ...shared("relays", { ROOM_RELAYS: "3" }, ROOM_TESTS, [
        ...EXCLUDED_FROM_ROOMS,
        ...NOT_WITH_RELAYS,
      ]),
      ...[1, 3].map((relays) => ({
        extends: true,
        plugins: [
          worker({
            WEBHOOK_URL: TEST_WEBHOOK_URL,
            WEBHOOK_KEY: TEST_WEBHOOK_KEY,
            WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
            WEBHOOK_MESSAGES: "true",
            ROOM_RELAYS: String(relays),
          }),
        ],
        // Membership is the room's with or without relays: the same events.
        test: {
          name: relays === 1 ? "webhooks" : "webhooks-relays",
          include: [WEBHOOK_TESTS],
        },
      })),
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
