/**
 * @module auth
 * Guards the API with BROADCAST_TOKEN. A server without a token refuses
 * everyone (503) rather than letting everyone in.
 */
import type { MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { fail, jsonError } from "./http-errors";

const unauthorized = () =>
  jsonError(401, "missing or wrong bearer token: send Authorization: Bearer <BROADCAST_TOKEN>", {
    "WWW-Authenticate": 'Bearer realm="chat"',
  });

/** Hono's bearer-auth (constant-time compare) with the token read per request from env. */
export const requireBroadcastToken: MiddlewareHandler<{ Bindings: Env }> = (c, next) => {
  const token = c.env.BROADCAST_TOKEN;
  if (!token)
    fail(503, "the inject API is disabled: BROADCAST_TOKEN is not configured on the server");
  return bearerAuth<{ Bindings: Env }>({
    token,
    realm: "chat",
    noAuthenticationHeader: { message: unauthorized },
    // A malformed header is as wrong as a wrong token: 401, not 400.
    invalidAuthenticationHeader: { message: unauthorized },
    invalidToken: { message: unauthorized },
  })(c, next);
};
