// simple-oauth2: the client credentials grant, by default with HTTP Basic and a form body.
import { ClientCredentials } from "simple-oauth2";

import { report, run, settings } from "./common.mjs";

run(async () => {
  const options = {
    default: {},
    client_secret_post: { authorizationMethod: "body" },
    client_secret_json: { authorizationMethod: "body", bodyFormat: "json" },
  }[settings.method];
  const client = new ClientCredentials({
    client: { id: settings.clientId, secret: settings.clientSecret },
    auth: { tokenHost: settings.baseUrl, tokenPath: "/oauth/token" },
    options,
  });

  const accessToken = await client.getToken({ scope: "users:read" });
  const response = await fetch(new URL(`/api/users/${settings.userId}`, settings.baseUrl), {
    headers: { Authorization: `Bearer ${accessToken.token.access_token}` },
  });
  if (!response.ok) throw new Error(`API call failed: ${response.status}`);
  report(accessToken.token, await response.json());
});
