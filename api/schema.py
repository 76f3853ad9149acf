"""How the OpenAPI document (drf-spectacular) describes the API-key authentication."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ClientKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ClientKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Api-Key <key>`; keys are made in the admin (Machine API > API keys)."}
