/** Values the test Worker is configured with (see vitest.config.ts). */
export const TEST_TOKEN = "test-broadcast-token";
export const TEST_HISTORY_LIMIT = 30;
export const TEST_HISTORY_ON_JOIN = 5;
/** Room capacity in tests: the 1,000-join burst plus its observer just fit. */
export const TEST_MAX_ROOM_CONNECTIONS = 1001;
/** API requests per address per 10 s in tests (3,000 in wrangler.toml). */
export const TEST_API_RATE_LIMIT = 50;
export const TEST_JOIN_SECRET = "test-join-secret-not-the-broadcast-token";
/** Webhooks are on only in the "webhooks" vitest project (test/webhooks.test.ts). */
export const TEST_WEBHOOK_URL = "https://hooks.test/chat";
export const TEST_WEBHOOK_KEY = "test-webhook-key";
export const TEST_WEBHOOK_SECRET = "test-webhook-secret";
/** The publish hook is on only in the "publish-hook" vitest project (test/publish-hook.test.ts). */
export const TEST_PUBLISH_HOOK_URL = "https://hooks.test/publish";
/** Long enough that a call the test holds is not given up on while it is held. */
export const TEST_PUBLISH_HOOK_TIMEOUT_MS = 5000;
