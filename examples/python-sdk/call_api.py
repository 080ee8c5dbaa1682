"""Call the API through the credgate SDK, which gets, caches and renews the token itself.

Needs: pip install credgate httpx
"""

import os
import sys

import httpx
from credgate.client import ClientCredentialsAuth, CredgateClientError

BASE_URL = os.environ.get("CREDGATE_URL", "https://credgate.example")  # credgate:base-url
CLIENT_ID = os.environ.get("CLIENT_ID", "your-client-id")  # credgate:client-id


def main() -> int:
    user_id = os.environ["USER_ID"]
    ca_file = os.environ.get("CREDGATE_CA")  # the development CA; leave unset in production

    # The secret comes from the environment, never from the code.
    auth = ClientCredentialsAuth(
        token_url=f"{BASE_URL}/oauth/token",
        client_id=CLIENT_ID,
        client_secret=os.environ["CLIENT_SECRET"],
        verify=ca_file or True,
    )
    try:
        with httpx.Client(base_url=BASE_URL, auth=auth, verify=ca_file or True) as http:
            response = http.get(f"/api/users/{user_id}")
    except CredgateClientError as exc:
        print(f"token request failed: {exc}", file=sys.stderr)
        return 1
    if response.status_code != 200:
        print(f"API call failed: {response.status_code} {response.text}", file=sys.stderr)
        return 1
    print(response.text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
