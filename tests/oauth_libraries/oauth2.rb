# The oauth2 gem gets a token with the client credentials grant and calls the API with it.
require "json"
require "oauth2"

options = {
  site: ENV.fetch("CREDGATE_URL"),
  token_url: "/oauth/token",
  ssl: { ca_file: ENV.fetch("CREDGATE_CA") },
}
method = ENV.fetch("AUTH_METHOD", "default")
options[:auth_scheme] = :basic_auth if method == "client_secret_basic"
options[:auth_scheme] = :request_body if method == "client_secret_post"

client = OAuth2::Client.new(ENV.fetch("CLIENT_ID"), ENV.fetch("CLIENT_SECRET"), options)
token = client.client_credentials.get_token(scope: "users:read")
response = token.get("/api/users/#{ENV.fetch('USER_ID')}")
puts JSON.generate(
  token: token.to_hash.merge(access_token: token.token, expires_at: token.expires_at),
  user: JSON.parse(response.body),
)
