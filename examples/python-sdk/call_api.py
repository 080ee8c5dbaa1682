"""Call the API through the credgate SDK, which gets, caches and renews the token itself.

Needs: pip install credgate httpx
"""

import os
import ssl
import sys

import httpx
from credgate.client import ClientCredentialsAuth

# The SDK reads CREDGATE_URL, CLIENT_ID and CLIENT_SECRET from the environment.
os.environ.setdefault("CREDGATE_URL", "https://credgate.example")  # credgate:base-url
os.environ.setdefault("CLIENT_ID", "your-client-id")  # credgate:client-id


def main() -> int:
    user_id = os.environ["USER_ID"]
    ca_file = os.environ.get("CREDGATE_CA")
    verify = ssl.create_default_context(cafile=ca_file) if ca_file else True

    auth = ClientCredentialsAuth.from_env()
    with httpx.Client(base_url=os.environ["CREDGATE_URL"], auth=auth, verify=verify) as http:
        response = http.get(f"/api/users/{user_id}")
    if response.status_code != 200:
        print(f"API call failed: {response.status_code} {response.text}", file=sys.stderr)
        return 1
    print(response.text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
