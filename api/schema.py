"""OpenAPI: every operation lists the error answers it can give, all with the one Error body."""

from drf_spectacular.openapi import AutoSchema as BaseAutoSchema

from .serializers.errors import ErrorSerializer

ERRORS = {
    "400": "Invalid input (a body field, a filter or a parameter); see error.details.",
    "401": "No or invalid credentials.",
    "403": "Authenticated, but this client may not do this.",
    "404": "No such row, or it belongs to another customer; or no such page.",
    "409": "The row's current state refuses the action (e.g. illegal_transition).",
    "415": "The body is not JSON.",
    "429": "Too many writes; retry after the Retry-After header's seconds.",
}


class AutoSchema(BaseAutoSchema):
    def _error_codes(self) -> list[str]:
        codes = ["401", "403"]
        is_write = self.method not in ("GET", "HEAD", "OPTIONS")
        if is_write or self._is_list_view():
            codes.append("400")
        if is_write or "{" in self.path or self._is_list_view():
            codes.append("404")  # a row, or a page past the end
        if is_write:
            codes += ["409", "415", "429"]
        return sorted(codes)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._error_codes():
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code)
                response["description"] = ERRORS[code]
                responses[code] = response
        return responses
