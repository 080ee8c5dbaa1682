#!/usr/bin/env bash
# Get a token from credgate with the client credentials grant, then read one user with it.
# Needs: curl and python3 (to read the JSON answer).
set -euo pipefail

BASE_URL="${CREDGATE_URL:-https://credgate.example}"  # credgate:base-url
CLIENT_ID="${CLIENT_ID:-your-client-id}"  # credgate:client-id
: "${CLIENT_SECRET:?set CLIENT_SECRET to the client secret}"
: "${USER_ID:?set USER_ID to the id of a user of your account}"

# A private CA (such as credgate's development one) is trusted only when CREDGATE_CA names it.
TLS=()
if [ -n "${CREDGATE_CA:-}" ]; then
    TLS=(--cacert "$CREDGATE_CA")
fi

# The credentials go as form fields (client_secret_post, RFC 6749 §2.3.1), form-encoded by
# curl. The secret is read from standard input, so it never shows in the process list.
TOKEN_RESPONSE=$(
    printf '%s' "$CLIENT_SECRET" |
        curl --silent --show-error --fail-with-body "${TLS[@]}" \
            --data grant_type=client_credentials \
            --data-urlencode "client_id=$CLIENT_ID" \
            --data-urlencode client_secret@- \
            "$BASE_URL/oauth/token"
) || { echo "token request failed: $TOKEN_RESPONSE" >&2; exit 1; }

TOKEN=$(printf '%s' "$TOKEN_RESPONSE" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')

# The bearer token goes in a header read from standard input, out of the process list too.
printf 'Authorization: Bearer %s\n' "$TOKEN" |
    curl --silent --show-error --fail-with-body "${TLS[@]}" --header @- \
        "$BASE_URL/api/users/$USER_ID"
echo
