// The Express resource server: GET /orders for a valid, unrevoked access token.
//
//   ACCESS_TOKEN_SECRET=... (or JWKS_URL=https://auth.example.com/.well-known/jwks.json)
//   REVOCATION_FEED_URL=https://auth.example.com/revocations/ REVOCATION_FEED_CREDENTIAL=...
//   TOKEN_ISSUER=authproject PORT=8002 node server.js
"use strict";

const express = require("express");
const { tokenAuth } = require("./tokenAuth");

const env = process.env;
const auth = tokenAuth({
  issuer: env.TOKEN_ISSUER || "authproject",
  audience: env.TOKEN_AUDIENCE || undefined,
  secret: env.ACCESS_TOKEN_SECRET || undefined,
  jwksUrl: env.JWKS_URL || undefined,
  feedUrl: env.REVOCATION_FEED_URL || undefined,
  feedCredential: env.REVOCATION_FEED_CREDENTIAL || "",
  pollIntervalMs: Number(env.REVOCATION_FEED_POLL_INTERVAL_MS || 5000),
  acceptUntyped: env.ACCEPT_UNTYPED_TOKENS !== "0",
});

const app = express();
app.disable("x-powered-by");
app.get("/healthz", (req, res) => res.json({ status: "ok" }));
app.get("/orders", auth, (req, res) => res.json({ sub: req.auth.sub, username: req.auth.name || "" }));

const port = Number(env.PORT || 8002);
const started = auth.feed ? auth.feed.start() : Promise.resolve();
started.finally(() => {
  app.listen(port, env.HOST || "127.0.0.1", () => console.log(`listening on http://127.0.0.1:${port}/`));
});
