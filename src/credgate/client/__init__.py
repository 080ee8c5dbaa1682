"""The credgate client SDK: OAuth 2.0 client credentials for httpx and requests.

```python
import httpx
from credgate.client import ClientCredentialsAuth

auth = ClientCredentialsAuth.from_env()
with httpx.Client(base_url="https://api.example.com", auth=auth) as api:
    api.get("/api/users").raise_for_status()
```

Settings come from arguments, then ``CREDGATE_*`` environment variables, then a TOML config
file: ``$CREDGATE_CLIENT_CONFIG``, else ``~/.config/credgate/client.toml``
(``$XDG_CONFIG_HOME`` respected). Each top-level table is a profile, ``[default]`` unless
``CREDGATE_PROFILE`` or ``profile=`` names another.
"""

from credgate.client._auth import ClientCredentialsAuth, is_invalid_token
from credgate.client._cache import FileTokenCache, RedisTokenCache, TokenCache, cache_key
from credgate.client._errors import (
    CredgateClientError,
    InvalidCredentials,
    InvalidScope,
    InvalidTokenResponse,
    MissingSetting,
    ServerUnavailable,
    TokenRequestFailed,
)
from credgate.client._settings import Credentials, SecretProvider, discover_token_url
from credgate.client._token import Token
from credgate.client._token_request import RetryPolicy

__all__ = [
    "ClientCredentialsAuth",
    "Credentials",
    "CredgateClientError",
    "FileTokenCache",
    "InvalidCredentials",
    "InvalidScope",
    "InvalidTokenResponse",
    "MissingSetting",
    "RedisTokenCache",
    "RetryPolicy",
    "SecretProvider",
    "ServerUnavailable",
    "Token",
    "TokenCache",
    "TokenRequestFailed",
    "cache_key",
    "discover_token_url",
    "is_invalid_token",
]
