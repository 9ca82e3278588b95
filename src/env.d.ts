// Optional secrets: wrangler.toml cannot declare them (only `[secrets]
// required`), so `wrangler types` cannot know them. Both Env views get them.
// Locally they reach the Worker from .dev.vars through `npm run dev`
// (scripts/dev.mjs); docs/deploy.md says which secrets are required and why.
interface OptionalSecrets {
  /** HS256 key for join tokens; unset means tokens and private rooms are refused. */
  JOIN_SECRET?: string;
  /** HMAC-SHA256 key for webhook and publish hook signatures; webhooks stay off without it. */
  WEBHOOK_SECRET?: string;
}
interface Env extends OptionalSecrets {}
declare namespace Cloudflare {
  interface Env extends OptionalSecrets {}
}
