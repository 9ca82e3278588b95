/**
 * @module http-errors
 * Every HTTP error leaves as `{"error": "<human text>"}` with no stack trace.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { logger } from "../log";

/** Throws an HTTP error whose JSON body tells a person what to fix. */
export function fail(status: ContentfulStatusCode, error: string, headers?: HeadersInit): never {
  throw new HTTPException(status, { res: jsonError(status, error, headers) });
}

export function jsonError(status: number, error: string, headers?: HeadersInit): Response {
  const h = new Headers(headers);
  h.set("Content-Type", "application/json; charset=utf-8");
  return new Response(JSON.stringify({ error }), { status, headers: h });
}

/** The app's onError: known HTTP errors keep their status, anything else is a bare 500. */
export function handleError(err: Error, c: Context): Response {
  if (err instanceof HTTPException) {
    const res = err.getResponse();
    if (res.headers.get("Content-Type")?.startsWith("application/json")) return res;
    return jsonError(err.status, err.message || res.statusText || "request failed", res.headers);
  }
  // The error's name only: its message could quote user input or a secret.
  logger(undefined)("error", { path: c.req.path, error: err.name });
  return jsonError(500, "internal error");
}
