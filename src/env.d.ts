// Optional secrets that wrangler.toml does not list as required, so
// `wrangler types` cannot know them. Both Env views get them.
interface OptionalSecrets {
  /** HS256 key for join tokens; unset means tokens and private rooms are refused. */
  JOIN_SECRET?: string;
}
interface Env extends OptionalSecrets {}
declare namespace Cloudflare {
  interface Env extends OptionalSecrets {}
}
