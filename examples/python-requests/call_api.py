"""Get a token from credgate with the client credentials grant, then read one user with it.

Needs: pip install requests
"""

import os
import sys
from urllib.parse import quote_plus

import requests

BASE_URL = os.environ.get("CREDGATE_URL", "https://credgate.example")  # credgate:base-url
CLIENT_ID = os.environ.get("CLIENT_ID", "your-client-id")  # credgate:client-id


def main() -> int:
    secret = os.environ["CLIENT_SECRET"]
    user_id = os.environ["USER_ID"]
    # A private CA (such as credgate's development one) is trusted when CREDGATE_CA names it.
    verify = os.environ.get("CREDGATE_CA") or True

    # RFC 6749 §2.3.1: form-encode the id and secret before they go into HTTP Basic.
    token_response = requests.post(
        f"{BASE_URL}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(quote_plus(CLIENT_ID), quote_plus(secret)),
        verify=verify,
        timeout=10,
    )
    if token_response.status_code != 200:
        print(f"token request failed: {token_response.status_code} {token_response.text}",
              file=sys.stderr)
        return 1
    token = token_response.json()["access_token"]

    user_response = requests.get(
        f"{BASE_URL}/api/users/{user_id}",
        headers={"Authorization": f"Bearer {token}"},
        verify=verify,
        timeout=10,
    )
    if user_response.status_code != 200:
        print(f"API call failed: {user_response.status_code} {user_response.text}",
              file=sys.stderr)
        return 1
    print(user_response.text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
