// openid-client: discovery through RFC 8414 metadata, then the client credentials grant.
import * as client from "openid-client";

import { report, run, settings } from "./common.mjs";

run(async () => {
  const authentication = {
    default: undefined, // a client secret given as a string means client_secret_post
    client_secret_basic: client.ClientSecretBasic(settings.clientSecret),
    client_secret_post: client.ClientSecretPost(settings.clientSecret),
  }[settings.method];
  const config = await client.discovery(
    new URL(settings.baseUrl),
    settings.clientId,
    settings.clientSecret,
    authentication,
    { algorithm: "oauth2" },
  );

  const token = await client.clientCredentialsGrant(config, { scope: "users:read" });
  const response = await client.fetchProtectedResource(
    config,
    token.access_token,
    new URL(`/api/users/${settings.userId}`, settings.baseUrl),
    "GET",
  );
  if (!response.ok) throw new Error(`API call failed: ${response.status}`);
  report(token, await response.json());
});
