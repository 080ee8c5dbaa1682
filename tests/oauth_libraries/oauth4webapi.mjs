// oauth4webapi: discovery through RFC 8414 metadata, then the client credentials grant.
// The library has no default client authentication; each method is picked explicitly.
import * as oauth from "oauth4webapi";

import { report, run, settings } from "./common.mjs";

run(async () => {
  const issuer = new URL(settings.baseUrl);
  const server = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { algorithm: "oauth2" }),
  );
  const client = { client_id: settings.clientId };
  const authentication = {
    client_secret_basic: oauth.ClientSecretBasic,
    client_secret_post: oauth.ClientSecretPost,
  }[settings.method](settings.clientSecret);

  const response = await oauth.clientCredentialsGrantRequest(
    server,
    client,
    authentication,
    new URLSearchParams({ scope: "users:read" }),
  );
  const token = await oauth.processClientCredentialsResponse(server, client, response);
  const user = await oauth.protectedResourceRequest(
    token.access_token,
    "GET",
    new URL(`/api/users/${settings.userId}`, settings.baseUrl),
  );
  if (!user.ok) throw new Error(`API call failed: ${user.status}`);
  report(token, await user.json());
});
