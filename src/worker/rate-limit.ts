/**
 * @module rate-limit
 * Per-address limit on the API, in front of the token check so that guessing
 * tokens is throttled too. Uses Cloudflare's rate-limiting binding, which
 * counts per location without a round trip to a central store.
 */
import type { MiddlewareHandler } from "hono";
import { addressKey } from "./client-address";
import { fail } from "./http-errors";

export const limitApiRequests: MiddlewareHandler<{ Bindings: Env }> = async (c, next) => {
  // An IPv6 client's /64 is one key: it cannot rotate its way past the limit.
  const key = addressKey(c.req.header("CF-Connecting-IP")) ?? "unknown-address";
  const { success } = await c.env.API_RATE_LIMITER.limit({ key });
  if (!success)
    fail(429, "too many API requests from this address: wait a few seconds", {
      "Retry-After": "10",
    });
  await next();
};
