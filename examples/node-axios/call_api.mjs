// Get a token from credgate with the client credentials grant, then read one user with it.
// Needs: npm install axios

import { readFileSync } from "node:fs";
import https from "node:https";
import tls from "node:tls";

import axios from "axios";

const BASE_URL = process.env.CREDGATE_URL ?? "https://credgate.example"; // credgate:base-url
const CLIENT_ID = process.env.CLIENT_ID ?? "your-client-id"; // credgate:client-id

function httpsAgent() {
  // A private CA (such as credgate's development one) is trusted when CREDGATE_CA names it,
  // next to the usual public ones.
  const caFile = process.env.CREDGATE_CA;
  if (!caFile) return undefined;
  return new https.Agent({ ca: [...tls.rootCertificates, readFileSync(caFile, "utf8")] });
}

async function main() {
  const secret = required("CLIENT_SECRET");
  const userId = required("USER_ID");
  const api = axios.create({ baseURL: BASE_URL, httpsAgent: httpsAgent(), timeout: 10000 });

  // A JSON body carries the credentials; credgate takes grant_type as implied there.
  const { data: token } = await api.post("/oauth/token", {
    grant_type: "client_credentials",
    client_id: CLIENT_ID,
    client_secret: secret,
  });

  const { data: user } = await api.get(`/api/users/${encodeURIComponent(userId)}`, {
    headers: { Authorization: `Bearer ${token.access_token}` },
  });
  console.log(JSON.stringify(user));
}

function required(name) {
  const value = process.env[name];
  if (!value) fail(`set ${name}`);
  return value;
}

function fail(message) {
  console.error(message);
  process.exit(1);
}

main().catch((error) => {
  // Report the status and the RFC error body; never the request, which holds the secret.
  const body = error.response ? JSON.stringify(error.response.data) : error.message;
  fail(`request failed: ${error.response?.status ?? ""} ${body}`);
});
