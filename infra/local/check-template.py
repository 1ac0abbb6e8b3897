"""Runs the SAM transform on template.yaml as CloudFormation does at deploy time, for each combination of
the parameters that change its shape, and fails on any error. cfn-lint alone does not catch what only
the transform refuses (an HttpApi event whose Path is not a literal string, for one)."""

import os
import sys

from cfnlint.decode import decode
from samtranslator.translator.transform import transform

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


class NoManagedPolicies:
    def load(self):
        return {}


def transformed(parameters: dict) -> dict:
    template, problems = decode("template.yaml")
    if problems:
        sys.exit(f"template.yaml does not parse: {problems}")
    # `sam build` replaces the local CodeUri with the built artifact's location.
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://bucket/function.zip"
    return transform(template, parameters, NoManagedPolicies())


for parameters in [
    {"EnableCloudFront": "false", "OriginVerifySecret": ""},
    {"EnableCloudFront": "true", "OriginVerifySecret": "x" * 32, "BasePath": "/api/analytics"},
]:
    resources = transformed(parameters)["Resources"]
    print(f"SAM transform with {sorted(parameters)}: {len(resources)} resources")
