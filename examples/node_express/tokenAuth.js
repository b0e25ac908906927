// Express middleware: accept authproject's access tokens, refuse revoked ones.
//
// Keys: the shared access secret (HS256, the site's default) or the site's JWKS
// (ES256 / RS256; jsonwebtoken does not do EdDSA). Revocation: the site's signed
// feed (GET /revocations/), polled every pollIntervalMs; while it has not
// answered for 3 intervals the middleware answers 503 rather than honour
// tokens it cannot check. See README.md in this folder.
"use strict";

const crypto = require("node:crypto");
const jwt = require("jsonwebtoken");

const ACCESS_TYPES = new Set(["at+jwt", "application/at+jwt"]);
const LEGACY_TYPES = new Set([undefined, "jwt"]);
const FORBIDDEN_HEADERS = ["jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256", "crit", "b64"];
const KID = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_TOKEN_BYTES = 4096;

class Unauthorized extends Error {}
class Unavailable extends Error {}

function keySource({ secret, jwksUrl }) {
  if (Boolean(secret) === Boolean(jwksUrl)) {
    throw new Error("Pass exactly one of secret (HS256) or jwksUrl (ES256/RS256).");
  }
  if (secret) {
    return async () => ({ key: Buffer.from(secret), algorithm: "HS256" });
  }
  let keys = new Map();
  let fetchedAt = 0;
  const refresh = async () => {
    const response = await fetch(jwksUrl, { signal: AbortSignal.timeout(5000) });
    if (!response.ok) throw new Unavailable(`JWKS answered ${response.status}`);
    const body = await response.json();
    keys = new Map(
      body.keys
        .filter((jwk) => jwk.alg === "ES256" || jwk.alg === "RS256")
        .map((jwk) => [jwk.kid, { key: crypto.createPublicKey({ key: jwk, format: "jwk" }), algorithm: jwk.alg }]),
    );
    fetchedAt = Date.now();
  };
  return async (kid) => {
    // An unknown kid refetches at most every 30 s: random kids cannot hammer the site.
    if (!keys.has(kid) && Date.now() - fetchedAt > 30000) {
      await refresh().catch((error) => {
        throw error instanceof Unavailable ? error : new Unavailable(String(error));
      });
    }
    const found = keys.get(kid);
    if (!found) throw new Unauthorized("no key for kid");
    return found;
  };
}

function decoder({ issuer, audience, leewaySeconds = 10, keys }) {
  return async (token, types, acceptUntyped) => {
    if (typeof token !== "string" || token.length > MAX_TOKEN_BYTES) throw new Unauthorized("token too long");
    const decoded = jwt.decode(token, { complete: true });
    if (!decoded || typeof decoded.header !== "object") throw new Unauthorized("malformed");
    const { header } = decoded;
    if (FORBIDDEN_HEADERS.some((name) => name in header)) throw new Unauthorized("forbidden header");
    const typ = typeof header.typ === "string" ? header.typ.toLowerCase() : header.typ;
    if (!types.has(typ) && !(acceptUntyped && LEGACY_TYPES.has(typ))) throw new Unauthorized("header typ");
    if (typeof header.kid !== "string" || !KID.test(header.kid)) throw new Unauthorized("bad kid");
    const { key, algorithm } = await keys(header.kid);
    if (header.alg !== algorithm) throw new Unauthorized("algorithm not allowed");
    try {
      return jwt.verify(token, key, {
        algorithms: [algorithm],
        issuer,
        audience: types === ACCESS_TYPES ? audience : undefined,
        clockTolerance: leewaySeconds,
      });
    } catch (error) {
      throw new Unauthorized(error.message);
    }
  };
}

class FeedRevocations {
  constructor({ url, credential, pollIntervalMs = 5000, decode }) {
    this.url = url;
    this.credential = credential;
    this.pollIntervalMs = pollIntervalMs;
    this.decode = decode;
    this.cursor = null;
    this.users = new Map(); // sub -> { ver, at }
    this.sessions = new Map(); // sid -> at
    this.lastSuccess = null;
  }

  start() {
    const tick = () => this.poll().catch((error) => console.warn(`revocation feed: ${error.message}`));
    this.timer = setInterval(tick, this.pollIntervalMs);
    this.timer.unref();
    return tick();
  }

  stop() {
    clearInterval(this.timer);
  }

  async poll() {
    for (;;) {
      const query = this.cursor === null ? "" : `?cursor=${encodeURIComponent(this.cursor)}`;
      const response = await fetch(this.url + query, {
        headers: { Authorization: `Bearer ${this.credential}`, Accept: "application/jwt" },
        signal: AbortSignal.timeout(3000),
      });
      if (!response.ok) throw new Unavailable(`feed answered ${response.status}`);
      const page = await this.decode(await response.text(), new Set(["revocations+jwt"]), false);
      if (page.typ !== "revocations") throw new Unavailable("not a revocation feed");
      this.apply(page);
      if (!page.more) break;
    }
    this.lastSuccess = Date.now();
  }

  apply(page) {
    for (const { sub, ver, at } of page.users) {
      const known = this.users.get(String(sub));
      if (!known || known.ver < ver) this.users.set(String(sub), { ver, at });
    }
    for (const { sid, at } of page.sessions) this.sessions.set(String(sid), at);
    // Entries older than the window refuse only tokens that have expired anyway.
    const horizon = Date.now() / 1000 - page.window;
    for (const [sub, entry] of this.users) if (entry.at < horizon) this.users.delete(sub);
    for (const [sid, at] of this.sessions) if (at < horizon) this.sessions.delete(sid);
    this.cursor = page.cursor;
  }

  isRevoked(claims) {
    if (this.lastSuccess === null || Date.now() - this.lastSuccess > 3 * this.pollIntervalMs) {
      throw new Unavailable("the revocation feed has not answered recently");
    }
    const required = this.users.get(claims.sub);
    return this.sessions.has(claims.sid) || (required !== undefined && claims.ver < required.ver);
  }
}

function tokenAuth(options) {
  const decode = decoder({ ...options, keys: keySource(options) });
  const feed = options.feedUrl
    ? new FeedRevocations({
        url: options.feedUrl,
        credential: options.feedCredential,
        pollIntervalMs: options.pollIntervalMs,
        decode,
      })
    : null;
  const middleware = async (req, res, next) => {
    const [scheme, token] = (req.get("Authorization") || "").split(" ");
    try {
      if (!scheme || scheme.toLowerCase() !== "bearer" || !token) throw new Unauthorized("no bearer token");
      const claims = await decode(token, ACCESS_TYPES, options.acceptUntyped !== false);
      if (claims.typ !== "access") throw new Unauthorized("not an access token");
      if (typeof claims.sub !== "string" || typeof claims.sid !== "string" || !Number.isInteger(claims.ver)) {
        throw new Unauthorized("claims of the wrong type");
      }
      if (feed && feed.isRevoked(claims)) throw new Unauthorized("revoked");
      req.auth = claims;
      return next();
    } catch (error) {
      if (error instanceof Unavailable) {
        return res.status(503).json({ detail: "Cannot check tokens right now.", code: "keys_unavailable" });
      }
      if (!(error instanceof Unauthorized)) return next(error);
      res.set("WWW-Authenticate", 'Bearer error="invalid_token"');
      return res.status(401).json({ detail: "Invalid or missing access token.", code: "token_invalid" });
    }
  };
  middleware.feed = feed;
  return middleware;
}

module.exports = { tokenAuth, FeedRevocations, Unauthorized, Unavailable };
