/** Values the test Worker is configured with (see vitest.config.ts). */
export const TEST_TOKEN = "test-broadcast-token";
export const TEST_HISTORY_LIMIT = 30;
export const TEST_HISTORY_ON_JOIN = 5;
export const TEST_JOIN_SECRET = "test-join-secret-not-the-broadcast-token";
