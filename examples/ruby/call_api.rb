# Get a token from credgate with the client credentials grant, then read one user with it.
# Needs: Ruby (net/http and json are in the standard library).

require "json"
require "net/http"
require "openssl"
require "uri"

BASE_URL = ENV.fetch("CREDGATE_URL", "https://credgate.example") # credgate:base-url
CLIENT_ID = ENV.fetch("CLIENT_ID", "your-client-id") # credgate:client-id

def required(name)
  value = ENV[name]
  abort("set #{name}") if value.nil? || value.empty?
  value
end

def send_request(request)
  uri = request.uri
  http = Net::HTTP.new(uri.host, uri.port)
  http.use_ssl = uri.scheme == "https"
  http.verify_mode = OpenSSL::SSL::VERIFY_PEER
  # A private CA (such as credgate's development one) is trusted when CREDGATE_CA names it.
  ca_file = ENV["CREDGATE_CA"]
  http.ca_file = ca_file if ca_file && !ca_file.empty?
  http.open_timeout = http.read_timeout = 10
  http.start { |connection| connection.request(request) }
rescue StandardError => e
  abort("request failed: #{e.message}")
end

secret = required("CLIENT_SECRET")
user_id = required("USER_ID")

# RFC 6749 §2.3.1: form-encode the id and secret before they go into HTTP Basic.
token_request = Net::HTTP::Post.new(URI("#{BASE_URL}/oauth/token"))
token_request.basic_auth(
  URI.encode_www_form_component(CLIENT_ID), URI.encode_www_form_component(secret)
)
token_request.set_form_data("grant_type" => "client_credentials")
token_response = send_request(token_request)
unless token_response.code == "200"
  abort("token request failed: #{token_response.code} #{token_response.body}")
end
token = JSON.parse(token_response.body).fetch("access_token")

user_request = Net::HTTP::Get.new(
  URI("#{BASE_URL}/api/users/#{URI.encode_www_form_component(user_id)}")
)
user_request["Authorization"] = "Bearer #{token}"
user_response = send_request(user_request)
unless user_response.code == "200"
  abort("API call failed: #{user_response.code} #{user_response.body}")
end
puts user_response.body
