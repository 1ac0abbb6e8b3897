"""AWS-shaped error answers, raised by the checks and turned into HTTP responses by the middleware."""

import json

DYNAMODB_PREFIX = "com.amazonaws.dynamodb.v20120810#"


class Refusal(Exception):
    """A request the local stack refuses as AWS would, with AWS's awsJson1_0 error shape."""

    def __init__(self, error_type: str, message: str, prefix: str = DYNAMODB_PREFIX, status: int = 400):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.prefix = prefix
        self.status = status

    def body(self) -> bytes:
        # aws-sdk-rust takes the code from `x-amzn-ErrorType` or `__type` (after '#'), the text from `message`.
        return json.dumps({"__type": self.prefix + self.error_type, "message": self.message}).encode()

    def headers(self) -> list[tuple[str, str]]:
        return [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("x-amzn-ErrorType", self.error_type),
            ("Content-Length", str(len(self.body()))),
        ]


def validation(message: str) -> Refusal:
    return Refusal("ValidationException", message)
