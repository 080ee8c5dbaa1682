// Get a token from credgate with the client credentials grant, then read one user with it.
// Needs: Node.js 18 or newer (built-in fetch). For a private CA, such as credgate's
// development one, start node with NODE_EXTRA_CA_CERTS=/path/to/ca.pem.

const BASE_URL = process.env.CREDGATE_URL ?? "https://credgate.example"; // credgate:base-url
const CLIENT_ID = process.env.CLIENT_ID ?? "your-client-id"; // credgate:client-id

async function main() {
  const secret = required("CLIENT_SECRET");
  const userId = required("USER_ID");

  // Form fields (client_secret_post); URLSearchParams form-encodes them.
  const tokenResponse = await fetch(`${BASE_URL}/oauth/token`, {
    method: "POST",
    body: new URLSearchParams({
      grant_type: "client_credentials",
      client_id: CLIENT_ID,
      client_secret: secret,
    }),
  });
  if (!tokenResponse.ok) {
    fail(`token request failed: ${tokenResponse.status} ${await tokenResponse.text()}`);
  }
  const { access_token: token } = await tokenResponse.json();

  const userResponse = await fetch(`${BASE_URL}/api/users/${encodeURIComponent(userId)}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  if (!userResponse.ok) {
    fail(`API call failed: ${userResponse.status} ${await userResponse.text()}`);
  }
  console.log(await userResponse.text());
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

main().catch((error) => fail(`request failed: ${error.cause?.message ?? error.message}`));
